"""inbox:* — the review inbox: pending requests in the order to decide them, decided requests,
one request with its neighbours, and the calls made outside an approved plan.

inbox:pending, inbox:decided, inbox:detail, inbox:outsidePlan.

Each is one or two SQL statements over the indexes the tables already have; nothing is written.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import Field

from api.claims import show_claim
from api.functions._common import (
    Id,
    Page,
    PaginationOpts,
    Result,
    ShortText,
    document,
    document_model,
)
from api.functions._read_models import (
    OUTSIDE_PLAN_CALLS,
    OUTSIDE_PLAN_COUNT_FOR_REQUEST,
    STAFF,
    TimelineToolCall,
)
from api.functions.approval_requests import Approval, counting_approvals
from api.functions.threads import title_matches
from api.registry import Args, Context, query
from api.services.paging import END_CURSOR, after_cursor, cut, empty_page
from api.vocabulary import DECISIONS, PENDING, Decision, RequestStatus
from models import ApprovalRequest, Artifact, Thread, ToolCall, User

requests = ApprovalRequest.__table__
artifacts = Artifact.__table__
threads = Thread.__table__
users = User.__table__
claimers = User.__table__.alias("claimers")

PREVIEW_CHARS = 240
# How much of a plan inbox:pending reads to make its preview (whitespace runs shrink).
PREVIEW_SOURCE_CHARS = 4 * PREVIEW_CHARS


class Approver(Result):
    """One approval of a request, with the approver's name (the two-person rule)."""

    userId: str
    name: str
    decidedTime: float
    comment: str | None = None
    artifactVersion: int | None = None
    # False for an approval of an earlier version of the plan: it no longer counts.
    counts: bool


_request_fields = {
    "status": RequestStatus,
    "threadTitle": str,
    "planPreview": str,
    "decidedByName": (str, Field(default=None)),
    "approvals": list[Approval],
    "claimedByName": (str, Field(default=None)),
}
InboxRequest = document_model(ApprovalRequest, "InboxRequest", **_request_fields)
InboxDetail = document_model(
    ApprovalRequest,
    "InboxDetail",
    **_request_fields,
    nextPendingId=str | None,
    previousPendingId=str | None,
    firstPendingId=str | None,
    # The approvals that count now (of the plan's current version), and every approval given.
    approvalCount=int,
    approvers=list[Approver],
)


class PendingSummary(Result):
    """One row of inbox:pending: what the inbox shows, never the whole plan."""

    id_: str = Field(alias="_id")
    creationTime_: float = Field(alias="_creationTime")
    threadId: str
    artifactId: str | None = None
    status: RequestStatus
    threadTitle: str
    planPreview: str
    # The deadline (ms since the epoch), when the request has one.
    expiresTime: float | None = None
    requiredApprovals: int
    # Approvals that count now, and the names of who gave them, in order.
    approvalCount: int
    approverNames: list[str]
    # A live claim ("<name> is reviewing"): who, when, and their name.
    claimedBy: str | None = None
    claimedTime: float | None = None
    claimedByName: str | None = None


class PendingInbox(Result):
    count: int
    requests: list[PendingSummary]


class OutsidePlanCalls(Result):
    count: int
    calls: list[TimelineToolCall]  # type: ignore[valid-type]


def _preview(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def _with_thread(ctx: Context, row: Any) -> dict[str, Any]:
    mapping = row._mapping
    doc = document(ApprovalRequest, row)
    doc["threadTitle"] = mapping["thread_title"] or ""
    doc["planPreview"] = _preview(mapping["plan_content"])
    if mapping.get("decider_name") is not None:
        doc["decidedByName"] = mapping["decider_name"]
    if doc.get("claimedBy") is not None:
        doc["claimedByName"] = mapping.get("claimer_name") or doc["claimedBy"]
    return show_claim(doc, ctx.now)


class PendingArgs(Args):
    limit: int = Field(default=200, ge=1, le=1000)


@query("inbox:pending", args=PendingArgs, returns=PendingInbox, allow=STAFF)
def pending(ctx: Context, args: PendingArgs) -> dict[str, Any]:
    """{count, requests}: the pending requests in the order to decide them: those with a
    deadline first, soonest deadline first; then those without one, oldest first. Each is a
    summary (ids, creation time, status, deadline, its thread's title, a one-line preview of the
    plan, never the whole plan: read it with approvalRequests:get; and for the two-person rule
    how many approvals it needs, has, and from whom). `count` is the total even when `requests`
    is cut at `limit`."""
    where = requests.c.status == PENDING
    count = ctx.conn.execute(sa.select(sa.func.count()).select_from(requests).where(where))
    # Only the start of each plan is read: a preview needs no more, whatever the plans' size.
    columns = sa.select(
        requests.c.id,
        requests.c.creation_time,
        requests.c.thread_id,
        requests.c.artifact_id,
        requests.c.status,
        requests.c.expires_time,
        requests.c.required_approvals,
        requests.c.approvals,
        sa.func.substr(requests.c.plan_content, 1, PREVIEW_SOURCE_CHARS).label("plan_start"),
        threads.c.title.label("thread_title"),
        artifacts.c.version.label("artifact_current_version"),
        requests.c.claimed_by,
        requests.c.claimed_time,
        claimers.c.name.label("claimer_name"),
    ).join(threads, threads.c.id == requests.c.thread_id)
    columns = columns.outerjoin(artifacts, artifacts.c.id == requests.c.artifact_id)
    columns = columns.outerjoin(claimers, claimers.c.id == requests.c.claimed_by)
    # Two index walks (status, expires_time, ...) and (status, creation_time, ...) rather than
    # one sort of every pending request by a computed key.
    rows = ctx.conn.execute(
        columns.where(where, requests.c.expires_time.is_not(None))
        .order_by(requests.c.expires_time, requests.c.creation_time, requests.c.id)
        .limit(args.limit)
    ).all()
    if len(rows) < args.limit:
        rows += ctx.conn.execute(
            columns.where(where, requests.c.expires_time.is_(None))
            .order_by(requests.c.creation_time, requests.c.id)
            .limit(args.limit - len(rows))
        ).all()
    names = _approver_names(ctx, rows)
    return {
        "count": count.scalar_one(),
        "requests": [_pending_summary(row, names, ctx.now) for row in rows],
    }


def _approver_names(ctx: Context, rows: list[Any]) -> dict[str, str]:
    ids = {approval["userId"] for row in rows for approval in row.approvals or []}
    if not ids:
        return {}
    found = ctx.conn.execute(sa.select(users.c.id, users.c.name).where(users.c.id.in_(ids)))
    return {row.id: row.name for row in found}


def _pending_summary(row: Any, names: dict[str, str], now: float) -> dict[str, Any]:
    counted = counting_approvals(row.approvals, row.artifact_current_version)
    summary = {
        "_id": row.id,
        "_creationTime": row.creation_time,
        "threadId": row.thread_id,
        "status": row.status,
        "threadTitle": row.thread_title or "",
        "planPreview": _preview(row.plan_start),
        "requiredApprovals": row.required_approvals,
        "approvalCount": len(counted),
        "approverNames": [names.get(a["userId"], a["userId"]) for a in counted],
    }
    if row.artifact_id is not None:
        summary["artifactId"] = row.artifact_id
    if row.expires_time is not None:
        summary["expiresTime"] = row.expires_time
    if row.claimed_by is not None:
        summary["claimedBy"] = row.claimed_by
        summary["claimedTime"] = row.claimed_time
        summary["claimedByName"] = row.claimer_name or row.claimed_by
    return show_claim(summary, now)


class DecidedArgs(Args):
    paginationOpts: PaginationOpts
    decision: Decision | None = None
    threadId: Id | None = None
    threadSearch: ShortText | None = None


@query("inbox:decided", args=DecidedArgs, returns=Page[InboxRequest], allow=STAFF)
def decided(ctx: Context, args: DecidedArgs) -> dict[str, Any]:
    """Decided requests, most recently decided first, with the decider's name and the thread's
    title. Filters: decision, threadId, or a piece of the thread's title."""
    opts = args.paginationOpts
    if opts.cursor == END_CURSOR:
        return empty_page()
    statuses = [args.decision] if args.decision else list(DECISIONS)
    query_ = (
        sa.select(
            requests,
            threads.c.title.label("thread_title"),
            users.c.name.label("decider_name"),
        )
        .join(threads, threads.c.id == requests.c.thread_id)
        .outerjoin(users, users.c.id == requests.c.decided_by)
        .where(requests.c.status.in_(statuses), requests.c.decided_time.is_not(None))
    )
    if args.threadId:
        query_ = query_.where(requests.c.thread_id == args.threadId)
    if args.threadSearch:
        query_ = query_.where(title_matches(ctx.conn, args.threadSearch))
    if opts.cursor:
        query_ = query_.where(after_cursor(opts.cursor, requests.c.decided_time, requests.c.id))
    rows = ctx.conn.execute(
        query_.order_by(requests.c.decided_time.desc(), requests.c.id.desc()).limit(
            opts.numItems + 1
        )
    ).all()
    rows, is_done, cursor = cut(rows, opts.numItems, "decided_time")
    return {
        "page": [_with_thread(ctx, row) for row in rows],
        "isDone": is_done,
        "continueCursor": cursor,
    }


class DetailArgs(Args):
    approvalRequestId: Id


@query("inbox:detail", args=DetailArgs, returns=InboxDetail | None, allow=STAFF)
def detail(ctx: Context, args: DetailArgs) -> dict[str, Any] | None:
    """One request with its thread's title, the decider's name, its approvals with the
    approvers' names (`approvers`; `approvalCount` those that count now), and the ids of the
    pending requests just before and after it in the inbox's order (for next/previous)."""
    row = ctx.conn.execute(
        sa.select(
            requests,
            threads.c.title.label("thread_title"),
            users.c.name.label("decider_name"),
            artifacts.c.version.label("artifact_current_version"),
            claimers.c.name.label("claimer_name"),
        )
        .join(threads, threads.c.id == requests.c.thread_id)
        .outerjoin(users, users.c.id == requests.c.decided_by)
        .outerjoin(artifacts, artifacts.c.id == requests.c.artifact_id)
        .outerjoin(claimers, claimers.c.id == requests.c.claimed_by)
        .where(requests.c.id == args.approvalRequestId)
    ).first()
    if row is None:
        return None
    doc = _with_thread(ctx, row)
    # A decided request's approvals count for the version it was decided on.
    version = row.artifact_current_version if row.status == PENDING else row.artifact_version
    counted = counting_approvals(row.approvals, version)
    names = _approver_names(ctx, [row])
    doc["approvalCount"] = len(counted)
    doc["approvers"] = [
        {
            **approval,
            "name": names.get(approval["userId"], approval["userId"]),
            "counts": any(approval is c for c in counted),
        }
        for approval in row.approvals or []
    ]
    doc["nextPendingId"] = _neighbour(ctx, row, after=True)
    doc["previousPendingId"] = _neighbour(ctx, row, after=False)
    doc["firstPendingId"] = _first_pending(ctx, exclude=row.id)
    return doc


def _neighbour(ctx: Context, row: Any, *, after: bool) -> str | None:
    """The pending request just after (or before) `row` in inbox:pending's order: deadlines
    first, soonest first; then the requests without one, oldest first."""
    pending_ = requests.c.status == PENDING
    with_deadline = requests.c.expires_time.is_not(None)
    without = requests.c.expires_time.is_(None)
    deadline_key = sa.tuple_(requests.c.expires_time, requests.c.creation_time, requests.c.id)
    plain_key = sa.tuple_(requests.c.creation_time, requests.c.id)
    deadline_order = [requests.c.expires_time, requests.c.creation_time, requests.c.id]
    plain_order = [requests.c.creation_time, requests.c.id]

    def one(where: list[Any], order: list[Any], descending: bool) -> str | None:
        if descending:
            order = [column.desc() for column in order]
        query_ = sa.select(requests.c.id).where(pending_, *where).order_by(*order).limit(1)
        return ctx.conn.execute(query_).scalar()

    if row.expires_time is not None:
        here = sa.tuple_(
            sa.literal(row.expires_time), sa.literal(row.creation_time), sa.literal(row.id)
        )
        if after:
            return one([with_deadline, deadline_key > here], deadline_order, False) or one(
                [without], plain_order, False
            )
        return one([with_deadline, deadline_key < here], deadline_order, True)
    here = sa.tuple_(sa.literal(row.creation_time), sa.literal(row.id))
    if after:
        return one([without, plain_key > here], plain_order, False)
    return one([without, plain_key < here], plain_order, True) or one(
        [with_deadline], deadline_order, True
    )


def _first_pending(ctx: Context, exclude: str) -> str | None:
    """The first pending request in inbox:pending's order, other than `exclude`."""
    pending_ = [requests.c.status == PENDING, requests.c.id != exclude]
    first = ctx.conn.execute(
        sa.select(requests.c.id)
        .where(*pending_, requests.c.expires_time.is_not(None))
        .order_by(requests.c.expires_time, requests.c.creation_time, requests.c.id)
        .limit(1)
    ).scalar()
    if first is not None:
        return first
    return ctx.conn.execute(
        sa.select(requests.c.id)
        .where(*pending_, requests.c.expires_time.is_(None))
        .order_by(requests.c.creation_time, requests.c.id)
        .limit(1)
    ).scalar()


class OutsidePlanArgs(Args):
    approvalRequestId: Id


@query("inbox:outsidePlan", args=OutsidePlanArgs, returns=OutsidePlanCalls, allow=STAFF)
def outside_plan(ctx: Context, args: OutsidePlanArgs) -> dict[str, Any]:
    """{count, calls}: the tool calls recorded after this request was approved that were outside
    its `plannedToolCalls`, oldest first (the first 100; `count` is the total)."""
    params = {"request_id": args.approvalRequestId}
    count = ctx.conn.execute(OUTSIDE_PLAN_COUNT_FOR_REQUEST, params).scalar_one()
    rows = ctx.conn.execute(OUTSIDE_PLAN_CALLS, params).all() if count else []
    return {
        "count": count,
        "calls": [{"kind": "toolCall", **document(ToolCall, row)} for row in rows],
    }
