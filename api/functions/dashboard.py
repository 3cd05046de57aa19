"""dashboard:* — queue and decision figures for the console's dashboard.

dashboard:stats.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from pydantic import Field

from api.functions._common import Result
from api.functions._read_models import DECISIONS, OUTSIDE_PLAN_COUNT, STAFF
from api.registry import Args, Context, query
from api.vocabulary import FAILED, PENDING
from models import ApprovalRequest, ToolCall

requests = ApprovalRequest.__table__
tool_calls = ToolCall.__table__
DAY_MS = 86_400_000


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
            requests.c.status == PENDING
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
            sa.func.sum(sa.case((tool_calls.c.status == FAILED, 1), else_=0)).label("failed"),
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
