"""approvalRequests:create/get/list/resolve/cancel: human-in-the-loop decisions on plans.

Deadlines: `timeoutMs` on create sets `expiresTime`; `expire_due` (run by api/deadlines.py in
every worker) turns pending requests past it into `expired` with one conditional UPDATE, so that
only one worker expires a given request and only that one publishes and notifies.

The two-person rule: `requiredApprovals` different people must approve (each approval is kept in
`approvals`); the request stays pending until the last one, and a rejection or a request for
changes by anyone decides it. An approval counts for the plan version it was given on: when the
linked artifact moves on to a new version, earlier approvals stay in the list but no longer count.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import Field

from api.claims import show_claim
from api.errors import FunctionError
from api.functions._common import (
    Id,
    Page,
    PaginationOpts,
    Result,
    ShortName,
    Text,
    all_rows,
    document,
    document_model,
    page,
)
from api.notifications import notify
from api.registry import BACKEND_WRITERS, DECIDERS, NULL, Args, Caller, Context, mutation, query
from api.services.artifact_versions import add_version, load_artifact
from api.services.audit import audit
from api.vocabulary import (
    APPROVALS_CHANGED,
    APPROVED,
    ARTIFACTS_CHANGED,
    CANCELLED,
    CHANGES_REQUESTED,
    DRAFT,
    EXPIRED,
    PENDING,
    REJECTED,
    SYNC_TOUCHED,
    Decision,
    RequestStatus,
    approval_topic,
)
from models import ApprovalRequest, Artifact, User
from models.ids import is_id_for, new_id

requests = ApprovalRequest.__table__
artifacts = Artifact.__table__
users = User.__table__


class Approval(Result):
    """One person's approval of a request (the two-person rule)."""

    userId: str
    decidedTime: float
    comment: str | None = None
    # The version of the linked plan artifact it was given on; it counts for that version only.
    artifactVersion: int | None = None


MAX_PLANNED_TOOL_CALLS = 200


class PlannedToolCall(Args):
    """One call the plan will run: a tool, and (optionally) the exact input it will get."""

    toolName: ShortName = Field(min_length=1)
    input: Any = None


class PlannedToolCallDoc(Result):
    toolName: str
    input: Any = None


ApprovalRequestDoc = document_model(
    ApprovalRequest,
    "ApprovalRequest",
    status=RequestStatus,
    approvals=list[Approval],
    plannedToolCalls=list[PlannedToolCallDoc],
)
MAX_WAIT_MS = 60_000
MIN_TIMEOUT_MS = 1000
MAX_TIMEOUT_MS = 2_592_000_000  # 30 days
MAX_REQUIRED_APPROVALS = 5
# The deadline watcher expires at most this many requests a transaction (after a long downtime
# the rest follow in the next ones), so that one write never holds the database for long.
EXPIRE_BATCH = 200
DEADLINE_CALLER = Caller(kind="system", id="deadlines", label="deadline")
# What an approved plan's artifact becomes; a request for changes sends it back to draft.
ARTIFACT_STATUS_AFTER = {
    APPROVED: APPROVED,
    REJECTED: REJECTED,
    CHANGES_REQUESTED: DRAFT,
}


def _changed(ctx: Context, request_id: str, thread_id: str, status: str, **extra: Any) -> None:
    payload = {"approvalRequestId": request_id, "threadId": thread_id, "status": status, **extra}
    ctx.emit(approval_topic(request_id), payload)
    ctx.emit(APPROVALS_CHANGED, payload)


def _notify(
    ctx: Context, event: str, request_id: str, thread_id: str, status: str, **extra: Any
) -> None:
    """Webhooks, in this transaction: the outbox rows commit (or roll back) with the change."""
    data = {"approvalRequestId": request_id, "threadId": thread_id, "status": status, **extra}
    notify(ctx.conn, event, data, f"/approvals/{request_id}")


class CreateArgs(Args):
    threadId: Id
    planContent: Text
    artifactId: Id | None = None
    # The deadline: still pending this many ms after creation, the request becomes `expired`.
    timeoutMs: int | None = Field(default=None, ge=MIN_TIMEOUT_MS, le=MAX_TIMEOUT_MS)
    # The two-person rule: how many different people must approve.
    requiredApprovals: int = Field(default=1, ge=1, le=MAX_REQUIRED_APPROVALS)
    plannedToolCalls: list[PlannedToolCall] | None = Field(
        default=None, max_length=MAX_PLANNED_TOOL_CALLS
    )


def _planned(calls: list[PlannedToolCall]) -> list[dict[str, Any]]:
    """As stored and shown: `input` only where one was given (null counts as not given)."""
    return [
        {"toolName": call.toolName}
        if call.input is None
        else {"toolName": call.toolName, "input": call.input}
        for call in calls
    ]


@mutation("approvalRequests:create", args=CreateArgs, returns=str, allow=BACKEND_WRITERS)
def create(ctx: Context, args: CreateArgs) -> str:
    """Asks people to decide on a plan; answers the request's id (status `pending`).
    `timeoutMs` (1000 to 2592000000, 30 days) sets a deadline (`expiresTime`): a request still
    pending then becomes `expired`. `requiredApprovals` (1 to 5, default 1): that many different
    people must approve before the request is `approved`.
    `plannedToolCalls` (at most 200 `{toolName, input?}`) lists what the plan will run: once the
    request is approved, each new call recorded in the thread is checked against it (see
    toolCalls:record) and flagged `outsidePlan` when it is not listed."""
    ctx.thread(args.threadId)
    if args.artifactId is not None:
        artifact = load_artifact(ctx, args.artifactId)
        if artifact.thread_id != args.threadId:
            raise FunctionError(f"artifactId: artifact {args.artifactId} belongs to another thread")
    request_id = new_id("approval_requests")
    expires_time = None if args.timeoutMs is None else ctx.now + args.timeoutMs
    values: dict[str, Any] = {
        "id": request_id,
        "creation_time": ctx.now,
        "thread_id": args.threadId,
        "plan_content": args.planContent,
        "artifact_id": args.artifactId,
        "status": PENDING,
        "expires_time": expires_time,
        "required_approvals": args.requiredApprovals,
        "approvals": [],
    }
    # Left out rather than None: SQLAlchemy would store JSON null, which is NOT NULL in SQL
    # (and the index of approved plans must only hold requests that have one).
    if args.plannedToolCalls is not None:
        values["planned_tool_calls"] = _planned(args.plannedToolCalls)
    ctx.conn.execute(sa.insert(requests).values(values))
    # The deadline rides on the event so that every worker's deadline watcher can wake for it.
    _changed(ctx, request_id, args.threadId, PENDING, expiresTime=expires_time)
    _notify(ctx, "approval.requested", request_id, args.threadId, PENDING)
    return request_id


class GetArgs(Args):
    approvalRequestId: Id
    waitMs: float | None = Field(default=None, ge=0)


def _visible(ctx: Context, request_id: str) -> Any | None:
    if not is_id_for("approval_requests", request_id):
        return None
    row = ctx.conn.execute(sa.select(requests).where(requests.c.id == request_id)).first()
    if row is None or ctx.visible_thread(row.thread_id) is None:
        return None
    return row


def _wait(args: GetArgs):
    seconds = min(args.waitMs or 0, MAX_WAIT_MS) / 1000.0

    def settled(result: dict[str, Any] | None) -> bool:
        return result is None or result["status"] != PENDING

    return approval_topic(args.approvalRequestId), seconds, settled


@query("approvalRequests:get", args=GetArgs, returns=ApprovalRequestDoc | None, wait=_wait)
def get(ctx: Context, args: GetArgs) -> dict[str, Any] | None:
    """The request or null. With `waitMs` (at most 60000), answers once it is no longer pending
    or `waitMs` has passed."""
    row = _visible(ctx, args.approvalRequestId)
    return None if row is None else show_claim(document(ApprovalRequest, row), ctx.now)


class ListArgs(Args):
    status: RequestStatus | None = None
    threadId: Id | None = None
    paginationOpts: PaginationOpts | None = None
    order: Literal["asc", "desc"] | None = None


@query(
    "approvalRequests:list",
    args=ListArgs,
    returns=list[ApprovalRequestDoc] | Page[ApprovalRequestDoc],
)
def list_requests(ctx: Context, args: ListArgs) -> list[dict[str, Any]] | dict[str, Any]:
    """Without paginationOpts: an array, oldest first. With it: a page, newest first.
    `order` overrides either (the inbox pages through pending requests oldest first)."""
    where = []
    if args.status is not None:
        where.append(requests.c.status == args.status)
    if args.threadId is not None:
        where.append(requests.c.thread_id == args.threadId)
    own = ctx.own_threads_filter(requests.c.thread_id)
    if own is not None:
        where.append(own)
    if args.paginationOpts is not None:
        descending = args.order != "asc"
        result = page(
            ctx, ApprovalRequest, where, args.paginationOpts, requests.c.creation_time, descending
        )
        for doc in result["page"]:
            show_claim(doc, ctx.now)
        return result
    order = [requests.c.creation_time, requests.c.id]
    if args.order == "desc":
        order = [column.desc() for column in order]
    docs = all_rows(ctx, ApprovalRequest, where, order, "approval requests")
    return [show_claim(doc, ctx.now) for doc in docs]


class ResolveArgs(Args):
    approvalRequestId: Id
    decision: Decision
    comment: Text | None = None
    editedPlan: Text | None = None
    # The version of the linked artifact the reviewer saw (the console always sends it).
    artifactVersion: int | None = Field(default=None, ge=1, le=2**31 - 1)


@mutation("approvalRequests:resolve", args=ResolveArgs, returns=NULL, allow=DECIDERS)
def resolve(ctx: Context, args: ResolveArgs) -> None:
    """Records a person's decision. Only a pending request can be decided; the first decision
    stands (the conditional UPDATE makes that hold between concurrent reviewers and workers).
    `artifactVersion` is the version of the linked artifact the reviewer saw: if the artifact has
    moved on since, the decision is refused, naming both versions. The decided request records
    the version it was decided on (`artifactVersion`).

    With `requiredApprovals` above 1, an approval is added to `approvals` and the request stays
    pending until that many different people have approved (the same person twice is an error);
    the last approval decides it (`decidedBy`, `comment` are that person's). A rejection or a
    request for changes by anyone decides it at once. An edited plan comes only with the approval
    that completes the request. A request past its deadline can no longer be decided."""
    request_id = ctx.require_id("approval_requests", args.approvalRequestId, "approvalRequestId")
    if args.editedPlan is not None and args.decision == REJECTED:
        raise FunctionError(
            "editedPlan cannot be given with the decision 'rejected': send it with 'approved' "
            "(the plan that will run) or 'changes_requested' (a suggested revision)"
        )
    comment = (args.comment or "").strip() or None
    # Locked (PostgreSQL; SQLite writers hold the database lock) so that two reviewers
    # approving at once are counted one after the other: neither approval is lost.
    row = ctx.conn.execute(
        sa.select(requests).where(requests.c.id == request_id).with_for_update()
    ).first()
    if row is None or row.status != PENDING:
        raise _not_pending(ctx, request_id)
    if row.expires_time is not None and row.expires_time <= ctx.now:
        raise FunctionError(
            f"Approval request {request_id} passed its deadline ({_iso(row.expires_time)}) "
            "and can no longer be decided",
            {"status": EXPIRED, "expiresTime": row.expires_time},
        )
    decided_version = _check_seen_version(ctx, row, args.artifactVersion)
    approvals = list(row.approvals or [])
    if args.decision == APPROVED:
        counted = counting_approvals(approvals, decided_version)
        if any(approval["userId"] == ctx.caller.id for approval in counted):
            raise FunctionError(
                f"You have already approved approval request {request_id}: it needs "
                f"{row.required_approvals} approvals from different people "
                f"({len(counted)} so far)",
                {"approvals": len(counted), "requiredApprovals": row.required_approvals},
            )
        approval: dict[str, Any] = {"userId": ctx.caller.id, "decidedTime": ctx.now}
        if comment is not None:
            approval["comment"] = comment
        if decided_version is not None:
            approval["artifactVersion"] = decided_version
        approvals.append(approval)
        if len(counted) + 1 < row.required_approvals:
            _add_partial_approval(ctx, row, approvals, len(counted) + 1, args)
            return
    decided = ctx.conn.execute(
        sa.update(requests)
        .where(requests.c.id == request_id, requests.c.status == PENDING)
        .values(
            status=args.decision,
            decided_by=ctx.caller.id,
            decided_time=ctx.now,
            comment=comment,
            edited_plan=args.editedPlan,
            artifact_version=decided_version,
            approvals=approvals,
        )
        .returning(requests.c.thread_id, requests.c.artifact_id)
    ).first()
    if decided is None:
        raise _not_pending(ctx, request_id)
    if decided.artifact_id is not None:
        _update_plan_artifact(ctx, decided.artifact_id, args)
    audit(
        ctx,
        "approval.decide",
        request_id,
        {
            "before": PENDING,
            "after": args.decision,
            "comment": comment,
            "edited": args.editedPlan is not None,
        },
    )
    _changed(ctx, request_id, decided.thread_id, args.decision)
    _notify(
        ctx,
        "approval.decided",
        request_id,
        decided.thread_id,
        args.decision,
        decidedBy=ctx.caller.id,
    )


def counting_approvals(
    approvals: list[dict[str, Any]] | None, artifact_version: int | None
) -> list[dict[str, Any]]:
    """The approvals that count now: those given on the linked artifact's current version
    (all of them when the request has no artifact)."""
    return [
        approval
        for approval in approvals or []
        if artifact_version is None or approval.get("artifactVersion") == artifact_version
    ]


def _add_partial_approval(
    ctx: Context, row: Any, approvals: list[dict[str, Any]], count: int, args: ResolveArgs
) -> None:
    if args.editedPlan is not None:
        raise FunctionError(
            f"editedPlan: this approval is {count} of {row.required_approvals}; an edited plan "
            "comes only with the approval that completes the request (the others approved the "
            "plan as it is). Approve it as it is, or request changes with your edit."
        )
    updated = ctx.conn.execute(
        sa.update(requests)
        .where(requests.c.id == row.id, requests.c.status == PENDING)
        .values(approvals=approvals)
    )
    if updated.rowcount != 1:
        raise _not_pending(ctx, row.id)
    audit(
        ctx,
        "approval.approve",
        row.id,
        {
            "approvals": count,
            "requiredApprovals": row.required_approvals,
            "comment": approvals[-1].get("comment"),
        },
    )
    _changed(ctx, row.id, row.thread_id, PENDING, approvals=count)


def _iso(ms: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000.0))


def _check_seen_version(ctx: Context, row: Any, seen: int | None) -> int | None:
    """The linked artifact's current version, which the decision is recorded on; refuses the
    decision when the reviewer saw another version (the plan changed while they read it).
    The artifact's row is locked (PostgreSQL) so that no new version lands in between."""
    if row.artifact_id is None:
        if seen is not None:
            raise FunctionError(
                f"artifactVersion: approval request {row.id} has no linked artifact"
            )
        return None
    current = ctx.conn.execute(
        sa.select(artifacts.c.version).where(artifacts.c.id == row.artifact_id).with_for_update()
    ).scalar()
    if current is None:
        return None
    if seen is not None and seen != current:
        moved = "has moved on to" if current > seen else "is at"
        raise FunctionError(
            f"The plan changed while you reviewed it: artifact {row.artifact_id} {moved} "
            f"version {current}, you saw version {seen}. Look at what changed and decide again.",
            {"artifactVersion": current, "seenVersion": seen},
        )
    return current


def _update_plan_artifact(ctx: Context, artifact_id: str, args: ResolveArgs) -> None:
    current = ctx.conn.execute(sa.select(artifacts).where(artifacts.c.id == artifact_id)).first()
    if current is None:
        return
    status = ARTIFACT_STATUS_AFTER[args.decision]
    changes: dict[str, Any] = {"status": status, "updated_time": ctx.now}
    # An edited plan that is approved is what will run: it becomes the artifact's next version.
    # One sent with changes_requested is a suggestion, kept on the request (editedPlan) only.
    approved_edit = args.decision == APPROVED and args.editedPlan is not None
    if approved_edit and args.editedPlan != current.content:
        changes["content"] = args.editedPlan
        changes["version"] = current.version + 1
        add_version(ctx, artifact_id, current.version + 1, args.editedPlan, status)
    ctx.conn.execute(sa.update(artifacts).where(artifacts.c.id == artifact_id).values(changes))
    ctx.emit(ARTIFACTS_CHANGED, {"artifactId": artifact_id, "threadId": current.thread_id})


def _not_pending(ctx: Context, request_id: str) -> FunctionError:
    row = _visible(ctx, request_id)
    if row is None:
        return FunctionError(f"Approval request {request_id} not found")
    if row.status == EXPIRED:
        return FunctionError(
            f"Approval request {request_id} expired at {_iso(row.decided_time)} (its deadline "
            "passed while it was pending); it can no longer be decided",
            {"status": row.status, "expiresTime": row.expires_time},
        )
    who = ""
    if row.decided_by:
        name = ctx.conn.execute(
            sa.select(users.c.name).where(users.c.id == row.decided_by)
        ).scalar()
        who = f" by {name or row.decided_by}"
    return FunctionError(
        f"Approval request {request_id} is already {row.status}{who}; the first decision stands",
        {"status": row.status, "decidedBy": row.decided_by},
    )


class CancelArgs(Args):
    approvalRequestId: Id


@mutation("approvalRequests:cancel", args=CancelArgs, returns=NULL, allow=BACKEND_WRITERS)
def cancel(ctx: Context, args: CancelArgs) -> None:
    """The backend withdraws its own pending request."""
    request_id = ctx.require_id("approval_requests", args.approvalRequestId, "approvalRequestId")
    row = _visible(ctx, request_id)
    if row is None:
        raise FunctionError(f"Approval request {request_id} not found")
    cancelled = ctx.conn.execute(
        sa.update(requests)
        .where(requests.c.id == request_id, requests.c.status == PENDING)
        .values(status=CANCELLED, decided_time=ctx.now)
    )
    if cancelled.rowcount != 1:
        raise _not_pending(ctx, request_id)
    _changed(ctx, request_id, row.thread_id, CANCELLED)
    _notify(ctx, "approval.decided", request_id, row.thread_id, CANCELLED)


def expire_due(conn: sa.Connection, now: float) -> tuple[list[dict[str, Any]], Any]:
    """Expires pending requests whose deadline has passed (at most EXPIRE_BATCH): `expired`,
    `decidedTime` now, no `decidedBy`. The UPDATE is conditional on `pending`, so with several
    workers each request is expired by one of them only: the rows it answers are this worker's,
    and only for those are events published and webhooks queued. Answers (the expired requests'
    ids, the events to publish after commit)."""
    due = (
        sa.select(requests.c.id)
        .where(requests.c.status == PENDING, requests.c.expires_time <= now)
        .order_by(requests.c.expires_time)
        .limit(EXPIRE_BATCH)
    )
    expired = conn.execute(
        sa.update(requests)
        .where(requests.c.id.in_(due.scalar_subquery()), requests.c.status == PENDING)
        .values(status=EXPIRED, decided_time=now)
        .returning(requests.c.id, requests.c.thread_id, requests.c.expires_time)
    ).all()
    ctx = Context(conn=conn, caller=DEADLINE_CALLER, now=now)
    for row in expired:
        audit(ctx, "approval.expire", row.id, {"before": PENDING, "after": EXPIRED})
        _notify(ctx, "approval.expired", row.id, row.thread_id, EXPIRED)
        _changed(ctx, row.id, row.thread_id, EXPIRED)
    if expired:
        # What the writer publishes for each batch of mutations: Convex sync subscriptions to
        # these requests (api/sync/subscriptions.py) re-run.
        touched = sorted({("approvalRequests", row.thread_id) for row in expired})
        ctx.emit(SYNC_TOUCHED, {"touched": [list(pair) for pair in touched]})
    return [
        {"approvalRequestId": row.id, "threadId": row.thread_id} for row in expired
    ], ctx._events


def next_deadline(conn: sa.Connection) -> float | None:
    """The soonest deadline of a pending request, or None."""
    return conn.execute(
        sa.select(sa.func.min(requests.c.expires_time)).where(
            requests.c.status == PENDING, requests.c.expires_time.is_not(None)
        )
    ).scalar()
