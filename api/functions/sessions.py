"""sessions:upsert, sessions:get: the SDK session state a backend needs to resume a thread."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.functions._common import Id, ShortText, Text, document, document_model
from api.registry import BACKEND_WRITERS, Args, Context, mutation, query
from api.vocabulary import SESSIONS_CHANGED
from models import Session
from models.ids import new_id

sessions = Session.__table__
SessionDoc = document_model(Session, "Session", state=dict[str, Any])


class UpsertArgs(Args):
    threadId: Id
    sdkSessionId: ShortText | None = None
    phase: ShortText | None = None
    plan: Text | None = None
    state: dict[str, Any] | None = None


@mutation("sessions:upsert", args=UpsertArgs, returns=str, allow=BACKEND_WRITERS)
def upsert(ctx: Context, args: UpsertArgs) -> str:
    """Creates the thread's session or merges the given fields into it (others are kept);
    answers the session's id."""
    ctx.thread(args.threadId)
    given = {
        column: value
        for column, value in (
            ("sdk_session_id", args.sdkSessionId),
            ("phase", args.phase),
            ("plan", args.plan),
            ("state", args.state),
        )
        if value is not None
    }
    existing = ctx.conn.execute(
        sa.select(sessions.c.id).where(sessions.c.thread_id == args.threadId)
    ).first()
    if existing is not None:
        ctx.conn.execute(
            sa.update(sessions)
            .where(sessions.c.id == existing.id)
            .values(updated_time=ctx.now, **given)
        )
        session_id = existing.id
    else:
        # A concurrent first upsert in another worker makes this insert hit the unique
        # thread_id; the writer then runs it again and it takes the update branch.
        session_id = new_id("sessions")
        ctx.conn.execute(
            sa.insert(sessions).values(
                id=session_id,
                creation_time=ctx.now,
                thread_id=args.threadId,
                updated_time=ctx.now,
                **given,
            )
        )
    ctx.emit(SESSIONS_CHANGED, {"threadId": args.threadId})
    return session_id


class GetArgs(Args):
    threadId: Id


@query("sessions:get", args=GetArgs, returns=SessionDoc | None)
def get(ctx: Context, args: GetArgs) -> dict[str, Any] | None:
    """The thread's session, or null."""
    if ctx.visible_thread(args.threadId) is None:
        return None
    row = ctx.conn.execute(sa.select(sessions).where(sessions.c.thread_id == args.threadId)).first()
    return None if row is None else document(Session, row)
