"""Read models for the review console: the inbox, decided requests, a thread's timeline, the
thread index with session phases, and dashboard figures.

inbox:pending, inbox:decided, inbox:detail, inbox:outsidePlan, timeline:list, console:threads,
dashboard:stats, console:artifactVersions, console:artifactVersionText.

Each is one or two SQL statements over the indexes the tables already have, so the console stays
fast at 100k threads and 10k-message threads. People only read here; nothing is written.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import Field

from api.claims import show_claim
from api.functions._common import (
    END_CURSOR,
    Id,
    Page,
    PaginationOpts,
    Result,
    ShortText,
    decode_cursor,
    document,
    document_model,
    encode_cursor,
)
from api.functions.approval_requests import Approval, RequestStatus, counting_approvals
from api.functions.artifacts import _visible as visible_artifact
from api.functions.messages import Role as MessageRole
from api.functions.threads import ThreadStatus, title_matches
from api.functions.tool_calls import ToolStatus
from api.registry import KEY, Args, Context, query
from models import (
    ApprovalRequest,
    Artifact,
    ArtifactVersion,
    Message,
    Session,
    Thread,
    ToolCall,
    User,
)

requests = ApprovalRequest.__table__
artifacts = Artifact.__table__
threads = Thread.__table__
messages = Message.__table__
tool_calls = ToolCall.__table__
sessions = Session.__table__
users = User.__table__
claimers = User.__table__.alias("claimers")
artifact_versions = ArtifactVersion.__table__

# The console's read models are for staff and backends; end users see their own threads through
# the contract functions.
STAFF = frozenset({KEY, "admin", "reviewer", "viewer"})
PREVIEW_CHARS = 240
# How much of a plan inbox:pending reads to make its preview (whitespace runs shrink).
PREVIEW_SOURCE_CHARS = 4 * PREVIEW_CHARS
DAY_MS = 86_400_000
Decision = Literal["approved", "rejected", "changes_requested"]
DECISIONS = ("approved", "rejected", "changes_requested")


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
TimelineMessage = document_model(
    Message, "TimelineMessage", kind=Literal["message"], role=MessageRole, metadata=dict[str, Any]
)
TimelineToolCall = document_model(
    ToolCall, "TimelineToolCall", kind=Literal["toolCall"], status=ToolStatus
)
ConsoleThread = document_model(
    Thread,
    "ConsoleThread",
    status=ThreadStatus,
    metadata=dict[str, Any],
    phase=(str, Field(default=None)),
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


class DayDecisions(Result):
    day: str
    approved: int
    rejected: int
    changes_requested: int


class ToolFigures(Result):
    toolName: str
    count: int
    failed: int
    avgDurationMs: float | None


class OutsidePlanCalls(Result):
    count: int
    calls: list[TimelineToolCall]  # type: ignore[valid-type]


class Stats(Result):
    pendingCount: int
    oldestPendingTime: float | None
    decisionsToday: int
    decisionsInWindow: int
    medianDecisionMs: float | None
    decisionsPerDay: list[DayDecisions]
    toolCallsPerTool: list[ToolFigures]
    # Tool calls recorded since `since` that were outside their thread's approved plan.
    outsidePlanCount: int
    since: float


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
    where = requests.c.status == "pending"
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
        return {"page": [], "isDone": True, "continueCursor": END_CURSOR}
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
        after = sa.tuple_(*decode_cursor(opts.cursor))
        query_ = query_.where(sa.tuple_(requests.c.decided_time, requests.c.id) < after)
    rows = ctx.conn.execute(
        query_.order_by(requests.c.decided_time.desc(), requests.c.id.desc()).limit(
            opts.numItems + 1
        )
    ).all()
    is_done = len(rows) <= opts.numItems
    rows = rows[: opts.numItems]
    cursor = END_CURSOR
    if not is_done and rows:
        cursor = encode_cursor(rows[-1].decided_time, rows[-1].id)
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
    version = row.artifact_current_version if row.status == "pending" else row.artifact_version
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
    pending_ = requests.c.status == "pending"
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
    pending_ = [requests.c.status == "pending", requests.c.id != exclude]
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


# Calls flagged outside an approved plan, through the partial indexes of flagged calls only
# (`outside_plan = true` is spelled as the index predicate: 1 on SQLite, true on PostgreSQL).
MAX_OUTSIDE_PLAN_SHOWN = 100
_flagged = tool_calls.c.outside_plan == sa.true()
OUTSIDE_PLAN_CALLS = (
    sa.select(tool_calls)
    .where(_flagged, tool_calls.c.approval_request_id == sa.bindparam("request_id"))
    .order_by(tool_calls.c.creation_time)
    .limit(MAX_OUTSIDE_PLAN_SHOWN)
)
OUTSIDE_PLAN_COUNT_FOR_REQUEST = sa.select(sa.func.count()).where(
    _flagged, tool_calls.c.approval_request_id == sa.bindparam("request_id")
)
OUTSIDE_PLAN_COUNT = sa.select(sa.func.count()).where(
    _flagged, tool_calls.c.creation_time >= sa.bindparam("since")
)


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


class TimelineArgs(Args):
    threadId: Id
    paginationOpts: PaginationOpts


@query(
    "timeline:list",
    args=TimelineArgs,
    returns=Page[TimelineMessage | TimelineToolCall],
    allow=STAFF,
)
def timeline(ctx: Context, args: TimelineArgs) -> dict[str, Any]:
    """A thread's messages and tool calls as one list, newest first, keyset-paged on
    (creation time, id). Each entry is the document plus `kind`: "message" or "toolCall"."""
    opts = args.paginationOpts
    empty = {"page": [], "isDone": True, "continueCursor": END_CURSOR}
    if opts.cursor == END_CURSOR or ctx.visible_thread(args.threadId) is None:
        return empty
    parts = []
    for kind, table in (("message", messages), ("toolCall", tool_calls)):
        part = sa.select(
            sa.literal(kind).label("kind"),
            table.c.id.label("id"),
            table.c.creation_time.label("creation_time"),
        ).where(table.c.thread_id == args.threadId)
        if opts.cursor:
            after = sa.tuple_(*decode_cursor(opts.cursor))
            part = part.where(sa.tuple_(table.c.creation_time, table.c.id) < after)
        # Each side is cut to one page first, so the union stays small however long the thread.
        part = part.order_by(table.c.creation_time.desc(), table.c.id.desc()).limit(
            opts.numItems + 1
        )
        parts.append(part.subquery().select())
    union = sa.union_all(*parts).subquery()
    keys = ctx.conn.execute(
        sa.select(union)
        .order_by(union.c.creation_time.desc(), union.c.id.desc())
        .limit(opts.numItems + 1)
    ).all()
    is_done = len(keys) <= opts.numItems
    keys = keys[: opts.numItems]
    found: dict[str, dict[str, Any]] = {}
    for kind, model, table in (
        ("message", Message, messages),
        ("toolCall", ToolCall, tool_calls),
    ):
        ids = [key.id for key in keys if key.kind == kind]
        if ids:
            for row in ctx.conn.execute(sa.select(table).where(table.c.id.in_(ids))):
                found[row.id] = {"kind": kind, **document(model, row)}
    cursor = END_CURSOR
    if not is_done and keys:
        cursor = encode_cursor(keys[-1].creation_time, keys[-1].id)
    return {
        "page": [found[key.id] for key in keys if key.id in found],
        "isDone": is_done,
        "continueCursor": cursor,
    }


class ThreadsArgs(Args):
    paginationOpts: PaginationOpts
    status: Literal["active", "archived"] | None = None
    userId: ShortText | None = None
    search: ShortText | None = None
    phase: ShortText | None = None


@query("console:threads", args=ThreadsArgs, returns=Page[ConsoleThread], allow=STAFF)
def browse_threads(ctx: Context, args: ThreadsArgs) -> dict[str, Any]:
    """threads:list plus each thread's session phase, and a `phase` filter. Newest first."""
    opts = args.paginationOpts
    if opts.cursor == END_CURSOR:
        return {"page": [], "isDone": True, "continueCursor": END_CURSOR}
    query_ = sa.select(threads, sessions.c.phase.label("session_phase")).outerjoin(
        sessions, sessions.c.thread_id == threads.c.id
    )
    if args.status:
        query_ = query_.where(threads.c.status == args.status)
    if args.userId:
        query_ = query_.where(threads.c.user_id == args.userId)
    if args.search:
        query_ = query_.where(title_matches(ctx.conn, args.search))
    if args.phase:
        query_ = query_.where(sessions.c.phase == args.phase)
    if opts.cursor:
        after = sa.tuple_(*decode_cursor(opts.cursor))
        query_ = query_.where(sa.tuple_(threads.c.creation_time, threads.c.id) < after)
    rows = ctx.conn.execute(
        query_.order_by(threads.c.creation_time.desc(), threads.c.id.desc()).limit(
            opts.numItems + 1
        )
    ).all()
    is_done = len(rows) <= opts.numItems
    rows = rows[: opts.numItems]
    page_ = []
    for row in rows:
        doc = document(Thread, row)
        if row.session_phase is not None:
            doc["phase"] = row.session_phase
        page_.append(doc)
    cursor = END_CURSOR
    if not is_done and rows:
        cursor = encode_cursor(rows[-1].creation_time, rows[-1].id)
    return {"page": page_, "isDone": is_done, "continueCursor": cursor}


MAX_TIME_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


class StatsArgs(Args):
    days: int = Field(default=14, ge=1, le=90)
    # Minutes to add to UTC for the viewer's local day boundaries (e.g. 60 for CET).
    utcOffsetMinutes: int = Field(default=0, ge=-14 * 60, le=14 * 60)
    # For tests; defaults to the current time. Bounded to the years calendars (and time.gmtime)
    # can name: 1970 to 9999.
    now: float | None = Field(default=None, ge=0, le=MAX_TIME_MS)


@query("dashboard:stats", args=StatsArgs, returns=Stats, allow=STAFF)
def stats(ctx: Context, args: StatsArgs) -> dict[str, Any]:
    """Queue and decision figures, and per-day / per-tool series for the last `days` days."""
    now = args.now if args.now is not None else time.time() * 1000.0
    offset = args.utcOffsetMinutes * 60_000
    today_start = ((now + offset) // DAY_MS) * DAY_MS - offset
    since = today_start - (args.days - 1) * DAY_MS

    pending_row = ctx.conn.execute(
        sa.select(sa.func.count(), sa.func.min(requests.c.creation_time)).where(
            requests.c.status == "pending"
        )
    ).one()
    decided_where = [requests.c.status.in_(DECISIONS), requests.c.decided_time.is_not(None)]
    decisions_today = ctx.conn.execute(
        sa.select(sa.func.count()).where(*decided_where, requests.c.decided_time >= today_start)
    ).scalar_one()

    # Median time to decision over the window: the middle row(s) by duration, found in SQL.
    duration = requests.c.decided_time - requests.c.creation_time
    window = [*decided_where, requests.c.decided_time >= since]
    decided_count = ctx.conn.execute(sa.select(sa.func.count()).where(*window)).scalar_one()
    median_ms = None
    if decided_count:
        middle = ctx.conn.execute(
            sa.select(duration.label("ms"))
            .where(*window)
            .order_by(duration)
            .offset((decided_count - 1) // 2)
            .limit(2 - decided_count % 2)
        ).scalars()
        values = list(middle)
        median_ms = sum(values) / len(values)

    day = _day_number(ctx, requests.c.decided_time + offset)
    per_day = {
        (int(row.day), row.status): row.n
        for row in ctx.conn.execute(
            sa.select(day.label("day"), requests.c.status, sa.func.count().label("n"))
            .where(*window)
            .group_by(day, requests.c.status)
        )
    }
    first_day = int((since + offset) // DAY_MS)
    decisions_per_day = []
    for index in range(args.days):
        day_number = first_day + index
        entry: dict[str, Any] = {
            "day": time.strftime("%Y-%m-%d", time.gmtime(day_number * DAY_MS / 1000)),
        }
        for decision in DECISIONS:
            entry[decision] = per_day.get((day_number, decision), 0)
        decisions_per_day.append(entry)

    tool_rows = ctx.conn.execute(
        sa.select(
            tool_calls.c.tool_name,
            sa.func.count().label("n"),
            sa.func.sum(sa.case((tool_calls.c.status == "failed", 1), else_=0)).label("failed"),
            sa.func.avg(tool_calls.c.duration_ms).label("avg_ms"),
        )
        .where(tool_calls.c.creation_time >= since)
        .group_by(tool_calls.c.tool_name)
        .order_by(sa.func.count().desc(), tool_calls.c.tool_name)
        .limit(20)
    ).all()
    outside_plan = ctx.conn.execute(OUTSIDE_PLAN_COUNT, {"since": since}).scalar_one()
    return {
        "pendingCount": pending_row[0],
        "oldestPendingTime": pending_row[1],
        "decisionsToday": decisions_today,
        "decisionsInWindow": decided_count,
        "medianDecisionMs": median_ms,
        "decisionsPerDay": decisions_per_day,
        "toolCallsPerTool": [
            {
                "toolName": row.tool_name,
                "count": row.n,
                "failed": int(row.failed or 0),
                "avgDurationMs": None if row.avg_ms is None else float(row.avg_ms),
            }
            for row in tool_rows
        ],
        "outsidePlanCount": outside_plan,
        "since": since,
    }


def _day_number(ctx: Context, ms: sa.ColumnElement) -> sa.ColumnElement:
    """Days since the epoch. SQLite truncates on CAST (times are positive); PostgreSQL would
    round, and SQLite builds may lack floor()."""
    if ctx.conn.dialect.name == "sqlite":
        return sa.cast(ms / DAY_MS, sa.Integer)
    return sa.cast(sa.func.floor(ms / DAY_MS), sa.BigInteger)


# ---- artifact versions without their content -------------------------------------------------
# An artifact may have many versions of up to 8 MiB each: the console lists them by size and
# fetches the text of only the versions it shows, cut to what it renders.


def _line_count(content: sa.ColumnElement) -> sa.ColumnElement:
    """Lines in a text, counted by the database: newlines, plus one for a last unended line."""
    newlines = sa.func.length(content) - sa.func.length(sa.func.replace(content, "\n", ""))
    unended = sa.case((sa.func.substr(content, sa.func.length(content), 1) == "\n", 0), else_=1)
    return sa.case((sa.func.length(content) == 0, 0), else_=newlines + unended)


class ArtifactVersionsArgs(Args):
    artifactId: Id


class ArtifactVersionSize(Result):
    version: int
    status: str
    createdBy: str
    creationTime_: float = Field(alias="_creationTime")
    chars: int
    lines: int


class ArtifactVersionText(Result):
    version: int
    status: str
    content: str
    chars: int
    truncated: bool


@query(
    "console:artifactVersions",
    args=ArtifactVersionsArgs,
    returns=list[ArtifactVersionSize],
    allow=STAFF,
)
def artifact_version_list(ctx: Context, args: ArtifactVersionsArgs) -> list[dict[str, Any]]:
    """Every version of an artifact, oldest first, as {version, status, createdBy,
    _creationTime, chars, lines}: sizes instead of content."""
    if visible_artifact(ctx, args.artifactId) is None:
        return []
    content = artifact_versions.c.content
    rows = ctx.conn.execute(
        sa.select(
            artifact_versions.c.version,
            artifact_versions.c.status,
            artifact_versions.c.created_by,
            artifact_versions.c.creation_time,
            sa.func.length(content).label("chars"),
            _line_count(content).label("lines"),
        )
        .where(artifact_versions.c.artifact_id == args.artifactId)
        .order_by(artifact_versions.c.version)
    ).all()
    return [
        {
            "version": row.version,
            "status": row.status,
            "createdBy": row.created_by,
            "_creationTime": row.creation_time,
            "chars": row.chars,
            "lines": row.lines,
        }
        for row in rows
    ]


class ArtifactVersionTextArgs(Args):
    artifactId: Id
    version: int = Field(ge=1, le=2**31 - 1)
    # At most this many characters of the content (the database cuts it); all when absent.
    maxChars: int | None = Field(default=None, ge=1, le=8 * 1024 * 1024)


@query(
    "console:artifactVersionText",
    args=ArtifactVersionTextArgs,
    returns=ArtifactVersionText | None,
    allow=STAFF,
)
def artifact_version_text(ctx: Context, args: ArtifactVersionTextArgs) -> dict[str, Any] | None:
    """{version, status, content, chars, truncated}: one version's text, cut to maxChars.
    None when the artifact or the version does not exist."""
    if visible_artifact(ctx, args.artifactId) is None:
        return None
    content = artifact_versions.c.content
    shown = content if args.maxChars is None else sa.func.substr(content, 1, args.maxChars)
    row = ctx.conn.execute(
        sa.select(
            artifact_versions.c.version,
            artifact_versions.c.status,
            shown.label("shown"),
            sa.func.length(content).label("chars"),
        ).where(
            artifact_versions.c.artifact_id == args.artifactId,
            artifact_versions.c.version == args.version,
        )
    ).first()
    if row is None:
        return None
    return {
        "version": row.version,
        "status": row.status,
        "content": row.shown,
        "chars": row.chars,
        "truncated": len(row.shown) < row.chars,
    }
