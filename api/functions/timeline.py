"""timeline:* — a thread's messages and tool calls as one list.

timeline:list.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.functions._common import Id, Page, PaginationOpts, document
from api.functions._read_models import STAFF, TimelineMessage, TimelineToolCall
from api.registry import Args, Context, query
from api.services.paging import END_CURSOR, after_cursor, cut, empty_page
from models import Message, ToolCall

messages = Message.__table__
tool_calls = ToolCall.__table__


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
    if opts.cursor == END_CURSOR or ctx.visible_thread(args.threadId) is None:
        return empty_page()
    parts = []
    for kind, table in (("message", messages), ("toolCall", tool_calls)):
        part = sa.select(
            sa.literal(kind).label("kind"),
            table.c.id.label("id"),
            table.c.creation_time.label("creation_time"),
        ).where(table.c.thread_id == args.threadId)
        if opts.cursor:
            part = part.where(after_cursor(opts.cursor, table.c.creation_time, table.c.id))
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
    keys, is_done, cursor = cut(keys, opts.numItems, "creation_time")
    found: dict[str, dict[str, Any]] = {}
    for kind, model, table in (
        ("message", Message, messages),
        ("toolCall", ToolCall, tool_calls),
    ):
        ids = [key.id for key in keys if key.kind == kind]
        if ids:
            for row in ctx.conn.execute(sa.select(table).where(table.c.id.in_(ids))):
                found[row.id] = {"kind": kind, **document(model, row)}
    return {
        "page": [found[key.id] for key in keys if key.id in found],
        "isDone": is_done,
        "continueCursor": cursor,
    }
