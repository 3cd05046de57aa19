"""threads:create, threads:get, threads:list, threads:update, threads:remove."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.errors import FunctionError
from api.functions._common import (
    Id,
    Page,
    PaginationOpts,
    ShortName,
    ShortText,
    document,
    document_model,
    page,
)
from api.registry import BACKEND_WRITERS, NULL, Args, Context, mutation, query
from api.vocabulary import ACTIVE, APPROVALS_CHANGED, THREADS_CHANGED, ThreadStatus
from models import Thread
from models.ids import new_id

threads = Thread.__table__
ThreadDoc = document_model(Thread, "Thread", status=ThreadStatus, metadata=dict[str, Any])


class CreateArgs(Args):
    title: ShortText | None = None
    userId: ShortName | None = None
    metadata: dict[str, Any] | None = None


@mutation("threads:create", args=CreateArgs, returns=str)
def create(ctx: Context, args: CreateArgs) -> str:
    """Creates an active thread; answers its id. End users create threads for themselves."""
    user_id = args.userId
    if ctx.caller.is_end_user:
        if user_id not in (None, ctx.caller.id):
            raise FunctionError("userId: you can only create threads for yourself")
        user_id = ctx.caller.id
    thread_id = new_id("threads")
    ctx.conn.execute(
        sa.insert(threads).values(
            id=thread_id,
            creation_time=ctx.now,
            user_id=user_id,
            title=args.title or "",
            status=ACTIVE,
            metadata=args.metadata,
            updated_time=ctx.now,
        )
    )
    ctx.emit(THREADS_CHANGED, {"threadId": thread_id})
    return thread_id


class GetArgs(Args):
    threadId: Id


@query("threads:get", args=GetArgs, returns=ThreadDoc | None)
def get(ctx: Context, args: GetArgs) -> dict[str, Any] | None:
    """The thread, or null when it does not exist (or is not the caller's)."""
    row = ctx.visible_thread(args.threadId)
    return None if row is None else document(Thread, row)


class ListArgs(Args):
    paginationOpts: PaginationOpts
    status: ThreadStatus | None = None
    userId: ShortName | None = None
    search: ShortText | None = None


@query("threads:list", args=ListArgs, returns=Page[ThreadDoc])
def list_threads(ctx: Context, args: ListArgs) -> dict[str, Any]:
    """Newest first. `search` matches the title, case-insensitively, anywhere in it."""
    where = []
    if args.status is not None:
        where.append(threads.c.status == args.status)
    if ctx.caller.is_end_user:
        where.append(threads.c.user_id == ctx.caller.id)
    elif args.userId is not None:
        where.append(threads.c.user_id == args.userId)
    if args.search:
        where.append(title_matches(ctx.conn, args.search))
    return page(ctx, Thread, where, args.paginationOpts, threads.c.creation_time)


# Above this many matching titles, a newest-first scan finds a page of them sooner than the index.
COMMON_TITLE_MATCHES = 500


def title_matches(conn: sa.Connection, search: str) -> sa.ColumnElement[bool]:
    """Threads whose title contains `search`, any case. On SQLite, the trigram index of migration
    0004 answers rare words (three characters or more); common ones are found faster by reading
    threads newest first until a page is full, so the index is first asked how common it is.
    (On PostgreSQL the planner makes that choice itself, with the pg_trgm index.)"""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if conn.dialect.name == "sqlite" and len(search) >= 3 and escaped == search:
        # FTS5's trigram index answers LIKE (case-insensitively) when there is no ESCAPE.
        pattern = f"%{search}%"
        matches = conn.exec_driver_sql(
            "SELECT count(*) FROM (SELECT 1 FROM threads_title_fts WHERE title LIKE ? LIMIT ?)",
            (pattern, COMMON_TITLE_MATCHES),
        ).scalar_one()
        if matches < COMMON_TITLE_MATCHES:
            indexed = "SELECT rowid FROM threads_title_fts WHERE title LIKE :title_like"
            return sa.text(f"threads.rowid IN ({indexed})").bindparams(title_like=pattern)
    return threads.c.title.ilike(f"%{escaped}%", escape="\\")


class UpdateArgs(Args):
    threadId: Id
    title: ShortText | None = None
    status: ThreadStatus | None = None
    metadata: dict[str, Any] | None = None


@mutation("threads:update", args=UpdateArgs, returns=NULL, allow=BACKEND_WRITERS)
def update(ctx: Context, args: UpdateArgs) -> None:
    """Changes the given fields; the others are kept."""
    ctx.thread(args.threadId)
    changes: dict[str, Any] = {"updated_time": ctx.now}
    if args.title is not None:
        changes["title"] = args.title
    if args.status is not None:
        changes["status"] = args.status
    if args.metadata is not None:
        changes["metadata"] = args.metadata
    ctx.conn.execute(sa.update(threads).where(threads.c.id == args.threadId).values(**changes))
    ctx.emit(THREADS_CHANGED, {"threadId": args.threadId})


class RemoveArgs(Args):
    threadId: Id


@mutation("threads:remove", args=RemoveArgs, returns=NULL, allow=BACKEND_WRITERS)
def remove(ctx: Context, args: RemoveArgs) -> None:
    """Removes the thread and, through ON DELETE CASCADE, everything that hangs off it."""
    ctx.thread(args.threadId)
    ctx.conn.execute(sa.delete(threads).where(threads.c.id == args.threadId))
    ctx.emit(THREADS_CHANGED, {"threadId": args.threadId})
    ctx.emit(APPROVALS_CHANGED, {"threadId": args.threadId})
