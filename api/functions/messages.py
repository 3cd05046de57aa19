"""messages:create, messages:list."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from pydantic import Field

from api.errors import FunctionError
from api.functions._common import Id, PaginationOpts, Text, document, page
from api.registry import Args, Context, mutation, query
from models import Message, Thread
from models.ids import new_id

messages = Message.__table__
threads = Thread.__table__
Role = Literal["user", "assistant", "system", "tool"]
# The orders column (and the thread's counter) is a 32-bit INTEGER on PostgreSQL.
MAX_ORDER = 2**31 - 1


class CreateArgs(Args):
    threadId: Id
    role: Role
    content: Text
    order: int | None = Field(default=None, ge=0, le=MAX_ORDER - 1)
    metadata: dict[str, Any] | None = None


@mutation("messages:create", args=CreateArgs)
def create(ctx: Context, args: CreateArgs) -> str:
    """Appends a message. The order is taken from the thread's counter under the thread row's
    write lock (the UPDATE), so concurrent posts get unique, gap-free orders on any database."""
    ctx.require_id("threads", args.threadId, "threadId")
    where = threads.c.id == args.threadId
    if args.order is None:
        bumped = ctx.conn.execute(
            sa.update(threads)
            .where(where, threads.c.next_order < MAX_ORDER)
            .values(next_order=threads.c.next_order + 1, updated_time=ctx.now)
            .returning(threads.c.next_order, threads.c.user_id)
        ).first()
        if bumped is None:
            full = ctx.conn.execute(sa.select(threads.c.user_id).where(where)).first()
            _check_thread(ctx, args.threadId, full)
            raise FunctionError(
                f"order: thread {args.threadId} has reached the highest order ({MAX_ORDER - 1})"
            )
        _check_thread(ctx, args.threadId, bumped)
        order = bumped.next_order - 1
    else:
        order = args.order
        after = order + 1
        bumped = ctx.conn.execute(
            sa.update(threads)
            .where(where)
            .values(
                next_order=sa.case(
                    (threads.c.next_order < after, after), else_=threads.c.next_order
                ),
                updated_time=ctx.now,
            )
            .returning(threads.c.user_id)
        ).first()
        _check_thread(ctx, args.threadId, bumped)
        taken = ctx.conn.execute(
            sa.select(messages.c.id).where(
                messages.c.thread_id == args.threadId, messages.c.order == order
            )
        ).first()
        if taken is not None:
            raise FunctionError(f"order {order} is already taken in thread {args.threadId}")
    message_id = new_id("messages")
    ctx.conn.execute(
        sa.insert(messages).values(
            id=message_id,
            creation_time=ctx.now,
            thread_id=args.threadId,
            role=args.role,
            content=args.content,
            order=order,
            metadata=args.metadata,
        )
    )
    return message_id


def _check_thread(ctx: Context, thread_id: str, row: Any) -> None:
    if row is None or (ctx.caller.is_end_user and row.user_id != ctx.caller.id):
        raise FunctionError(f"Thread {thread_id} not found")


class ListArgs(Args):
    threadId: Id
    paginationOpts: PaginationOpts | None = None


@query("messages:list", args=ListArgs)
def list_messages(ctx: Context, args: ListArgs) -> list[dict[str, Any]] | dict[str, Any]:
    """Without paginationOpts: every message, by order. With it: a page, newest first."""
    if ctx.visible_thread(args.threadId) is None:
        if args.paginationOpts is None:
            return []
        return {"page": [], "isDone": True, "continueCursor": "end"}
    where = [messages.c.thread_id == args.threadId]
    if args.paginationOpts is not None:
        return page(ctx, Message, where, args.paginationOpts, messages.c.order)
    rows = ctx.conn.execute(sa.select(messages).where(*where).order_by(messages.c.order)).all()
    return [document(Message, row) for row in rows]
