"""toolCalls:record, toolCalls:list: the audit trail of what the agent ran."""

from __future__ import annotations

from typing import Any, Literal

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
from api.registry import BACKEND_WRITERS, Args, Context, mutation, query
from models import ToolCall
from models.ids import new_id

tool_calls = ToolCall.__table__
ToolStatus = Literal["started", "succeeded", "failed"]
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
    (output, status, duration). Without a status: succeeded if there is an output, else started."""
    ctx.thread(args.threadId)
    status = args.status or ("succeeded" if args.output is not None else "started")
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
        )
    )
    return call_id


class ListArgs(Args):
    threadId: Id
    paginationOpts: PaginationOpts | None = None


@query("toolCalls:list", args=ListArgs, returns=list[ToolCallDoc] | Page[ToolCallDoc])
def list_tool_calls(ctx: Context, args: ListArgs) -> list[dict[str, Any]] | dict[str, Any]:
    """Without paginationOpts: every call in order of arrival. With it: a page, newest first."""
    if ctx.visible_thread(args.threadId) is None:
        if args.paginationOpts is None:
            return []
        return {"page": [], "isDone": True, "continueCursor": "end"}
    where = [tool_calls.c.thread_id == args.threadId]
    if args.paginationOpts is not None:
        return page(ctx, ToolCall, where, args.paginationOpts, tool_calls.c.creation_time)
    order = [tool_calls.c.creation_time, tool_calls.c.id]
    return all_rows(ctx, ToolCall, where, order, "tool calls")
