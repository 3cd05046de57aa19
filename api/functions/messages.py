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


# Built once: constructing SQLAlchemy statements costs more than running them on this hot path.
_NEXT_ORDER = (
    sa.update(threads)
    .where(threads.c.id == sa.bindparam("b_thread"), threads.c.next_order < MAX_ORDER)
    .values(next_order=threads.c.next_order + 1, updated_time=sa.bindparam("b_now"))
    .returning(threads.c.next_order, threads.c.user_id)
)
_RAISE_NEXT_ORDER = (
    sa.update(threads)
    .where(threads.c.id == sa.bindparam("b_thread"))
    .values(
        next_order=sa.case(
            (threads.c.next_order < sa.bindparam("b_after"), sa.bindparam("b_after")),
            else_=threads.c.next_order,
        ),
        updated_time=sa.bindparam("b_now"),
    )
    .returning(threads.c.user_id)
)
_THREAD_OWNER = sa.select(threads.c.user_id).where(threads.c.id == sa.bindparam("b_thread"))
_ORDER_TAKEN = sa.select(messages.c.id).where(
    messages.c.thread_id == sa.bindparam("b_thread"), messages.c.order == sa.bindparam("b_order")
)
_INSERT = sa.insert(messages)


_LOCK_THREADS = (
    sa.select(threads.c.id, threads.c.next_order, threads.c.user_id)
    .where(threads.c.id.in_(sa.bindparam("b_threads", expanding=True)))
    .order_by(threads.c.id)  # one lock order for every writer: no deadlocks between workers
    .with_for_update()  # PostgreSQL row locks; SQLite's writer already holds the database lock
)
_SET_NEXT_ORDER = (
    sa.update(threads)
    .where(threads.c.id == sa.bindparam("b_thread"))
    .values(next_order=sa.bindparam("b_next"), updated_time=sa.bindparam("b_now"))
)


def create_many(calls: list[tuple[Context, CreateArgs]]) -> list[str | FunctionError]:
    """messages:create for many calls of one batch (those without an explicit order): one
    statement locks their threads, one moves the counters, one inserts every message."""
    conn = calls[0][0].conn
    thread_ids = sorted({args.threadId for _, args in calls})
    counters = {
        row.id: [row.next_order, row.user_id]
        for row in conn.execute(_LOCK_THREADS, {"b_threads": thread_ids})
    }
    results: list[str | FunctionError] = []
    rows, moved = [], {}
    for ctx, args in calls:
        thread_id = args.threadId
        counter = counters.get(thread_id)
        try:
            ctx.require_id("threads", thread_id, "threadId")
            _check_visible(ctx, thread_id, counter is not None, counter and counter[1])
            if counter[0] >= MAX_ORDER:
                raise FunctionError(
                    f"order: thread {thread_id} has reached the highest order ({MAX_ORDER - 1})"
                )
        except FunctionError as exc:
            results.append(exc)
            continue
        order = counter[0]
        counter[0] += 1
        moved[thread_id] = {"b_thread": thread_id, "b_next": counter[0], "b_now": ctx.now}
        message_id = new_id("messages")
        rows.append(
            {
                "id": message_id,
                "creation_time": ctx.now,
                "thread_id": thread_id,
                "role": args.role,
                "content": args.content,
                "order": order,
                "metadata": args.metadata,
            }
        )
        results.append(message_id)
    if moved:
        conn.execute(_SET_NEXT_ORDER, list(moved.values()))
    if rows:
        conn.execute(_INSERT, rows)
    return results


@mutation(
    "messages:create",
    args=CreateArgs,
    batch=create_many,
    batchable=lambda args: args.order is None,
)
def create(ctx: Context, args: CreateArgs) -> str:
    """Appends a message. The order is taken from the thread's counter under the thread row's
    write lock (the UPDATE), so concurrent posts get unique, gap-free orders on any database."""
    thread_id = ctx.require_id("threads", args.threadId, "threadId")
    conn = ctx.conn
    if args.order is None:
        bumped = conn.execute(_NEXT_ORDER, {"b_thread": thread_id, "b_now": ctx.now}).first()
        if bumped is None:
            _check_thread(
                ctx, thread_id, conn.execute(_THREAD_OWNER, {"b_thread": thread_id}).first()
            )
            raise FunctionError(
                f"order: thread {thread_id} has reached the highest order ({MAX_ORDER - 1})"
            )
        _check_thread(ctx, thread_id, bumped)
        order = bumped.next_order - 1
    else:
        order = args.order
        bumped = conn.execute(
            _RAISE_NEXT_ORDER, {"b_thread": thread_id, "b_after": order + 1, "b_now": ctx.now}
        ).first()
        _check_thread(ctx, thread_id, bumped)
        if conn.execute(_ORDER_TAKEN, {"b_thread": thread_id, "b_order": order}).first():
            raise FunctionError(f"order {order} is already taken in thread {thread_id}")
    message_id = new_id("messages")
    conn.execute(
        _INSERT,
        {
            "id": message_id,
            "creation_time": ctx.now,
            "thread_id": thread_id,
            "role": args.role,
            "content": args.content,
            "order": order,
            "metadata": args.metadata,
        },
    )
    return message_id


def _check_thread(ctx: Context, thread_id: str, row: Any) -> None:
    _check_visible(ctx, thread_id, row is not None, row and row.user_id)


def _check_visible(ctx: Context, thread_id: str, exists: bool, owner: str | None) -> None:
    """A missing thread and someone else's thread (for end users) look the same: not found."""
    if not exists or (ctx.caller.is_end_user and owner != ctx.caller.id):
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
