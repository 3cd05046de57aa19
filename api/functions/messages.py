"""messages:create, messages:list."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy import exc as sa_exc

from api.errors import FunctionError, NotAllowed
from api.functions._common import Id, Page, PaginationOpts, Text, document, document_model, page
from api.registry import Args, Context, mutation, query
from api.services.paging import empty_page
from api.vocabulary import MessageRole
from api.writer import MAX_MEMO_ENTRIES, MEMO
from models import Message, Thread
from models.ids import new_id

messages = Message.__table__
threads = Thread.__table__
MessageDoc = document_model(Message, "Message", role=MessageRole, metadata=dict[str, Any])
# The writer's memo entry: {thread id: [owner, next order]} (see create_many).
_MEMO_THREADS = "messages.threads"
# The order column is a 32-bit INTEGER on PostgreSQL.
MAX_ORDER = 2**31 - 1


class CreateArgs(Args):
    threadId: Id
    role: MessageRole
    content: Text
    order: int | None = Field(default=None, ge=0, le=MAX_ORDER - 1)
    metadata: dict[str, Any] | None = None


# Orders come from the (thread_id, order) unique index: one above the highest. The thread's row is
# locked first (FOR UPDATE: PostgreSQL, where writers in several workers overlap; SQLite's writer
# holds the database lock already), so concurrent posts get unique, gap-free orders. Nothing is
# written to the thread itself, which keeps a message to the pages its own row and indexes need.
# Statements are built once: constructing them cost more than running them on this hot path.
_ORDER_TAKEN = sa.select(messages.c.id).where(
    messages.c.thread_id == sa.bindparam("b_thread"), messages.c.order == sa.bindparam("b_order")
)
_INSERT = sa.insert(messages)


# The batch path below runs plain SQL through the driver (still via SQLAlchemy's connection, so
# errors and the transaction are SQLAlchemy's): measured, SQLAlchemy's per-execution work on these
# statements cost more than everything else a streamed message needs.
def _driver_sql(conn: sa.Connection, sql: str) -> str:
    return sql if conn.dialect.paramstyle == "qmark" else sql.replace("?", "%s")


# The highest order of one thread, as a correlated scalar subquery: a bare max() over the
# (thread_id, order) index with one equality is answered by one seek to the last entry on both
# databases (SQLite's min/max optimisation, PostgreSQL's backward index-only scan with LIMIT 1).
# Written as `max(...) ... WHERE thread_id IN (...) GROUP BY thread_id` it read every entry of
# the thread instead: 230 ms per batch at a million messages (tests/test_ingest_plans.py).
_HIGHEST = '(SELECT max(m."order") FROM messages m WHERE m.thread_id = threads.id)'


def _threads_sql(conn: sa.Connection, count: int) -> str:
    """SQLite: one statement for owners and highest orders (the writer holds the database lock).
    PostgreSQL: only the owners, locking the rows; the highest orders are read after the lock is
    held (`_highest_orders_sql`), so that they include what a writer we waited for committed."""
    marks = ", ".join("?" * count)
    if conn.dialect.name == "sqlite":
        return f"SELECT id, user_id, {_HIGHEST} FROM threads WHERE id IN ({marks}) ORDER BY id"
    return _driver_sql(
        conn, f"SELECT id, user_id FROM threads WHERE id IN ({marks}) ORDER BY id FOR UPDATE"
    )


def _highest_orders_sql(conn: sa.Connection, count: int) -> str:
    marks = ", ".join("?" * count)
    return _driver_sql(conn, f"SELECT id, {_HIGHEST} FROM threads WHERE id IN ({marks})")


def _lock_threads_sql(conn: sa.Connection, count: int) -> str:
    lock = "" if conn.dialect.name == "sqlite" else " FOR UPDATE"
    marks = ", ".join("?" * count)
    return _driver_sql(
        conn, f"SELECT id, user_id FROM threads WHERE id IN ({marks}) ORDER BY id{lock}"
    )


def locked_threads(conn: sa.Connection, thread_ids: list[str]) -> tuple[dict, dict]:
    """Lock the threads (sorted ids: no deadlock between workers) and read each one's next
    order. Returns ({thread id: owner}, {thread id: next order}) for the threads that exist."""
    if conn.dialect.name == "sqlite":
        found = conn.exec_driver_sql(_threads_sql(conn, len(thread_ids)), tuple(thread_ids)).all()
        owners = {row[0]: row[1] for row in found}
        highest = {row[0]: row[2] for row in found}
    else:
        owners, highest = _lock_then_read_highest(conn, thread_ids)
    next_orders = {
        thread_id: 0 if highest.get(thread_id) is None else highest[thread_id] + 1
        for thread_id in owners
    }
    return owners, next_orders


def _lock_then_read_highest(conn: sa.Connection, thread_ids: list[str]) -> tuple[dict, dict]:
    """PostgreSQL: both statements in one round trip (psycopg's pipeline mode). The server still
    runs them one after the other, and the second takes its snapshot only once the first holds
    every lock, so the highest orders include what a writer we waited for committed."""
    params = tuple(thread_ids)
    lock = _threads_sql(conn, len(thread_ids))
    read = _highest_orders_sql(conn, len(thread_ids))
    driver = conn.connection.driver_connection
    dbapi = conn.dialect.loaded_dbapi
    try:
        with driver.cursor() as locking, driver.cursor() as reading:
            with driver.pipeline():
                locking.execute(lock, params)
                reading.execute(read, params)
            return dict(locking.fetchall()), dict(reading.fetchall())
    except dbapi.Error as exc:
        raise sa_exc.DBAPIError.instance(lock, params, exc, dbapi.Error) from exc


_INSERT_SQL = (
    'INSERT INTO messages (id, creation_time, thread_id, role, content, "order", metadata) '
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def create_many(calls: list[tuple[Context, CreateArgs]]) -> list[str | FunctionError]:
    """messages:create for many calls (those without an explicit order): a few statements for
    the lot: lock their threads and read their highest orders, insert every message.

    In the SQLite writer's memo (api/writer.py) each thread read here is remembered as [owner,
    next order] and kept up to date by the inserts below, so that while nothing else writes, a
    batch into known threads reads nothing. Only threads that exist are remembered: a missing
    thread is read again each time, and deleting one (or anything else) empties the memo."""
    conn = calls[0][0].conn
    memo = conn.info.get(MEMO)
    wanted = {args.threadId for _, args in calls}
    if memo is None:
        known: dict[str, list] = {}
        unknown = wanted
    else:
        known = memo.get(_MEMO_THREADS)
        if known is None or len(known) > MAX_MEMO_ENTRIES:
            known = memo[_MEMO_THREADS] = {}
        unknown = wanted.difference(known)
    if unknown:
        owners, next_orders = locked_threads(conn, sorted(unknown))
        for thread_id, owner in owners.items():
            known[thread_id] = [owner, next_orders[thread_id]]
    results: list[str | FunctionError] = []
    rows = []
    for ctx, args in calls:
        thread_id = args.threadId
        thread = known.get(thread_id)
        try:
            ctx.require_id("threads", thread_id, "threadId")
            _check_role(ctx, args)
            _check_visible(ctx, thread_id, thread is not None, thread and thread[0])
            order = thread[1]
            if order >= MAX_ORDER:
                raise FunctionError(
                    f"order: thread {thread_id} has reached the highest order ({MAX_ORDER - 1})"
                )
        except FunctionError as exc:
            results.append(exc)
            continue
        thread[1] = order + 1
        message_id = new_id("messages")
        metadata = None if args.metadata is None else json.dumps(args.metadata)
        rows.append((message_id, ctx.now, thread_id, args.role, args.content, order, metadata))
        results.append(message_id)
    if len(rows) >= COPY_FROM and conn.dialect.name == "postgresql":
        _copy_rows(conn, rows)
    elif rows:
        conn.exec_driver_sql(_driver_sql(conn, _INSERT_SQL), rows)
    return results


# PostgreSQL: a batch of this many rows or more goes in by COPY. Measured for 50 rows of 500
# characters: 4 µs of the writer's CPU per row against 13 for executemany (psycopg binds and
# sends every row as a statement of its own), and less of the server's; below this, the extra
# round trip COPY takes (COPY ... FROM STDIN, then the data) is not worth it.
COPY_FROM = 8
_COPY_SQL = (
    'COPY messages (id, creation_time, thread_id, role, content, "order", metadata) FROM STDIN'
)


def _copy_rows(conn: sa.Connection, rows: list[tuple]) -> None:
    """COPY the rows through the driver; its errors come out as SQLAlchemy's, as an INSERT's do
    (a unique key taken is an IntegrityError, a dropped connection an OperationalError)."""
    driver = conn.connection.driver_connection
    dbapi = conn.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor, cursor.copy(_COPY_SQL) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi.Error as exc:
        raise sa_exc.DBAPIError.instance(_COPY_SQL, None, exc, dbapi.Error) from exc


@mutation(
    "messages:create",
    args=CreateArgs,
    returns=str,
    batch=create_many,
    batchable=lambda args: args.order is None,
    batch_keeps_memo=True,
)
def create(ctx: Context, args: CreateArgs) -> str:
    """Appends a message; answers its id. Without `order`: one above the highest in the thread
    (the first is 0), race-free. An `order` already taken is an error."""
    if args.order is None:
        return _single_result(create_many([(ctx, args)]))
    thread_id = ctx.require_id("threads", args.threadId, "threadId")
    _check_role(ctx, args)
    owner = ctx.conn.exec_driver_sql(_lock_threads_sql(ctx.conn, 1), (thread_id,)).first()
    _check_visible(ctx, thread_id, owner is not None, owner and owner.user_id)
    if ctx.conn.execute(_ORDER_TAKEN, {"b_thread": thread_id, "b_order": args.order}).first():
        raise FunctionError(f"order {args.order} is already taken in thread {thread_id}")
    row = _row(ctx, args, args.order)
    ctx.conn.execute(_INSERT, row)
    return row["id"]


def _row(ctx: Context, args: CreateArgs, order: int) -> dict[str, Any]:
    return {
        "id": new_id("messages"),
        "creation_time": ctx.now,
        "thread_id": args.threadId,
        "role": args.role,
        "content": args.content,
        "order": order,
        "metadata": args.metadata,
    }


def _single_result(results: list[str | FunctionError]) -> str:
    if isinstance(results[0], FunctionError):
        raise results[0]
    return results[0]


def _check_role(ctx: Context, args: CreateArgs) -> None:
    """End users speak for themselves only: the assistant, system and tool messages are the
    agent's, posted by its backend."""
    if ctx.caller.is_end_user and args.role != "user":
        raise NotAllowed(
            f"Not allowed: a user may post messages with role 'user' only, not {args.role!r}; "
            "the agent's messages are posted by its backend (API key)"
        )


def _check_visible(ctx: Context, thread_id: str, exists: bool, owner: str | None) -> None:
    """A missing thread and someone else's thread (for end users) look the same: not found."""
    if not exists or (ctx.caller.is_end_user and owner != ctx.caller.id):
        raise FunctionError(f"Thread {thread_id} not found")


class ListArgs(Args):
    threadId: Id
    paginationOpts: PaginationOpts | None = None


@query("messages:list", args=ListArgs, returns=list[MessageDoc] | Page[MessageDoc])
def list_messages(ctx: Context, args: ListArgs) -> list[dict[str, Any]] | dict[str, Any]:
    """Without paginationOpts: every message, by order. With it: a page, newest first."""
    if ctx.visible_thread(args.threadId) is None:
        if args.paginationOpts is None:
            return []
        return empty_page()
    where = [messages.c.thread_id == args.threadId]
    if args.paginationOpts is not None:
        return page(ctx, Message, where, args.paginationOpts, messages.c.order)
    rows = ctx.conn.execute(sa.select(messages).where(*where).order_by(messages.c.order)).all()
    return [document(Message, row) for row in rows]
