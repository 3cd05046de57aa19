"""toolCalls:record, toolCalls:list: the audit trail of what the agent ran.

Each new call is checked against what people approved: the thread's latest approved request
that listed `plannedToolCalls` (one seek in `ix_approval_requests_thread_approved_plan`, a partial
index holding only such requests, so the check costs the same however long the thread; the list
itself is read once per request and kept, indexed by tool name). A call
is inside the plan when some listed entry has its `toolName` and, where the entry gives an
`input`, an equal input (JSON equality: key order does not matter, 1 equals 1.0, true is not 1).
The list is a set, not a sequence: a listed call may run any number of times, in any order.
A call outside it is stored with `outsidePlan: true`, and `toolCall.outsidePlan` is notified in
the same transaction; a call inside it is stored with `outsidePlan: false`; both keep the
`approvalRequestId` they were checked against. Calls recorded before any such approval (or in
threads without one) are not checked, and recording a toolCallId again (an update) does not
check it again.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import Field

from api.functions._common import (
    Id,
    Page,
    PaginationOpts,
    ShortName,
    all_rows,
    document_model,
    page,
)
from api.notifications import notify
from api.registry import BACKEND_WRITERS, Args, Context, mutation, query
from api.services.paging import empty_page
from api.vocabulary import APPROVED, STARTED, SUCCEEDED, ToolStatus
from models import ApprovalRequest, ToolCall
from models.ids import new_id

tool_calls = ToolCall.__table__
requests = ApprovalRequest.__table__
ToolCallDoc = document_model(ToolCall, "ToolCall", status=ToolStatus)


class RecordArgs(Args):
    threadId: Id
    toolName: ShortName
    input: Any
    output: Any = None
    status: ToolStatus | None = None
    toolCallId: ShortName | None = None
    durationMs: float | None = Field(default=None, ge=0)


@mutation("toolCalls:record", args=RecordArgs, returns=str, allow=BACKEND_WRITERS)
def record(ctx: Context, args: RecordArgs) -> str:
    """Records a call. Recording the same toolCallId again in the thread updates that document
    (output, status, duration). Without a status: succeeded if there is an output, else started.
    After a request with `plannedToolCalls` is approved in the thread, a new call is stored with
    `approvalRequestId` (that request) and `outsidePlan` (true when no planned entry has its
    toolName and, where the entry gives one, its input); an outside call is notified as
    `toolCall.outsidePlan`."""
    ctx.thread(args.threadId)
    status = args.status or (SUCCEEDED if args.output is not None else STARTED)
    if args.toolCallId is not None:
        existing = ctx.conn.execute(
            sa.select(tool_calls.c.id).where(
                tool_calls.c.thread_id == args.threadId,
                tool_calls.c.tool_call_id == args.toolCallId,
            )
        ).first()
        if existing is not None:
            changes: dict[str, Any] = {}
            # Recording again without a status or an output (a duration only, say) keeps the
            # status it had; an output alone means it succeeded.
            if args.status is not None or args.output is not None:
                changes["status"] = status
            if args.output is not None:
                changes["output"] = args.output
            if args.durationMs is not None:
                changes["duration_ms"] = args.durationMs
            if changes:
                ctx.conn.execute(
                    sa.update(tool_calls).where(tool_calls.c.id == existing.id).values(changes)
                )
            return existing.id
    call_id = new_id("tool_calls")
    plan_id = ctx.conn.execute(APPROVED_PLAN, {"thread_id": args.threadId}).scalar()
    outside = None
    if plan_id is not None:
        outside = not approved_plan(ctx, plan_id).allows(args.toolName, args.input)
    ctx.conn.execute(
        sa.insert(tool_calls).values(
            id=call_id,
            creation_time=ctx.now,
            thread_id=args.threadId,
            tool_name=args.toolName,
            input=args.input,
            output=args.output,
            status=status,
            tool_call_id=args.toolCallId,
            duration_ms=args.durationMs,
            outside_plan=outside,
            approval_request_id=plan_id,
        )
    )
    if outside:
        data = {
            "toolCallId": call_id,
            "threadId": args.threadId,
            "approvalRequestId": plan_id,
            "status": status,
        }
        # In the mutation's transaction (and savepoint): the outbox row commits or rolls back
        # with the call.
        notify(ctx.conn, "toolCall.outsidePlan", data, f"/threads/{args.threadId}")
    return call_id


# The thread's latest approved request with a plan: its id only (the index answers it; the
# plan itself comes from `approved_plan`). The status and the plan's presence are literals, not
# parameters, so that both databases match the partial index's predicate.
APPROVED_PLAN = (
    sa.select(requests.c.id)
    .where(
        requests.c.thread_id == sa.bindparam("thread_id"),
        requests.c.status == sa.literal_column(f"'{APPROVED}'"),
        requests.c.planned_tool_calls.is_not(None),
    )
    .order_by(requests.c.decided_time.desc())
    .limit(1)
)
PLANNED_CALLS = sa.select(requests.c.planned_tool_calls).where(
    requests.c.id == sa.bindparam("request_id")
)


class Plan:
    """An approved list of planned calls, by tool name: None where any input is allowed, else
    the inputs that are."""

    def __init__(self, planned: list[dict[str, Any]]) -> None:
        self.by_tool: dict[str, list[Any] | None] = {}
        for entry in planned:
            name, planned_input = entry.get("toolName"), entry.get("input")
            if planned_input is None:
                self.by_tool[name] = None
            elif name not in self.by_tool:
                self.by_tool[name] = [planned_input]
            elif self.by_tool[name] is not None:
                self.by_tool[name].append(planned_input)

    def allows(self, tool_name: str, tool_input: Any) -> bool:
        if tool_name not in self.by_tool:
            return False
        inputs = self.by_tool[tool_name]
        return inputs is None or any(same_json(planned, tool_input) for planned in inputs)


# A request's plannedToolCalls never change once it is created, so each is read and indexed
# once: decoding a 200-entry list cost about four times the lookup itself on every call
# (measured with bench/plan_check.py's setup). Emptied when full, which is rare and harmless.
MAX_CACHED_PLANS = 1024
_plans: dict[str, Plan] = {}


def approved_plan(ctx: Context, request_id: str) -> Plan:
    plan = _plans.get(request_id)
    if plan is None:
        planned = ctx.conn.execute(PLANNED_CALLS, {"request_id": request_id}).scalar()
        plan = Plan(planned or [])
        if len(_plans) >= MAX_CACHED_PLANS:
            _plans.clear()
        _plans[request_id] = plan
    return plan


def in_plan(tool_name: str, tool_input: Any, planned: list[dict[str, Any]]) -> bool:
    """True when some planned entry names `tool_name` and, if it gives an input, an equal one."""
    return Plan(planned).allows(tool_name, tool_input)


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: objects by keys (any order), arrays in order, numbers by value (1 == 1.0,
    as JSON and the databases read them), and booleans never equal to numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


class ListArgs(Args):
    threadId: Id
    paginationOpts: PaginationOpts | None = None


@query("toolCalls:list", args=ListArgs, returns=list[ToolCallDoc] | Page[ToolCallDoc])
def list_tool_calls(ctx: Context, args: ListArgs) -> list[dict[str, Any]] | dict[str, Any]:
    """Without paginationOpts: every call in order of arrival. With it: a page, newest first."""
    if ctx.visible_thread(args.threadId) is None:
        if args.paginationOpts is None:
            return []
        return empty_page()
    where = [tool_calls.c.thread_id == args.threadId]
    if args.paginationOpts is not None:
        return page(ctx, ToolCall, where, args.paginationOpts, tool_calls.c.creation_time)
    order = [tool_calls.c.creation_time, tool_calls.c.id]
    return all_rows(ctx, ToolCall, where, order, "tool calls")
