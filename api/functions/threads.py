"""threads:create, threads:get, threads:list, threads:update, threads:remove."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa

from api.errors import FunctionError
from api.functions._common import Id, PaginationOpts, ShortText, document, page
from api.registry import Args, Context, mutation, query
from models import Thread
from models.ids import new_id

threads = Thread.__table__
ThreadStatus = Literal["active", "archived"]


class CreateArgs(Args):
    title: ShortText | None = None
    userId: ShortText | None = None
    metadata: dict[str, Any] | None = None


@mutation("threads:create", args=CreateArgs)
def create(ctx: Context, args: CreateArgs) -> str:
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
            status="active",
            metadata=args.metadata,
            updated_time=ctx.now,
        )
    )
    ctx.emit("threads:changed", {"threadId": thread_id})
    return thread_id


class GetArgs(Args):
    threadId: Id


@query("threads:get", args=GetArgs)
def get(ctx: Context, args: GetArgs) -> dict[str, Any] | None:
    row = ctx.visible_thread(args.threadId)
    return None if row is None else document(Thread, row)


class ListArgs(Args):
    paginationOpts: PaginationOpts
    status: ThreadStatus | None = None
    userId: ShortText | None = None
    search: ShortText | None = None


@query("threads:list", args=ListArgs)
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
        escaped = args.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(threads.c.title.ilike(f"%{escaped}%", escape="\\"))
    return page(ctx, Thread, where, args.paginationOpts, threads.c.creation_time)


class UpdateArgs(Args):
    threadId: Id
    title: ShortText | None = None
    status: ThreadStatus | None = None
    metadata: dict[str, Any] | None = None


@mutation("threads:update", args=UpdateArgs)
def update(ctx: Context, args: UpdateArgs) -> None:
    ctx.thread(args.threadId)
    changes: dict[str, Any] = {"updated_time": ctx.now}
    if args.title is not None:
        changes["title"] = args.title
    if args.status is not None:
        changes["status"] = args.status
    if args.metadata is not None:
        changes["metadata"] = args.metadata
    ctx.conn.execute(sa.update(threads).where(threads.c.id == args.threadId).values(**changes))
    ctx.emit("threads:changed", {"threadId": args.threadId})


class RemoveArgs(Args):
    threadId: Id


@mutation("threads:remove", args=RemoveArgs)
def remove(ctx: Context, args: RemoveArgs) -> None:
    """Removes the thread and, through ON DELETE CASCADE, everything that hangs off it."""
    ctx.thread(args.threadId)
    ctx.conn.execute(sa.delete(threads).where(threads.c.id == args.threadId))
    ctx.emit("threads:changed", {"threadId": args.threadId})
    ctx.emit("approvals:changed", {"threadId": args.threadId})
