"""authSessions:* — a person's sign-in sessions.

authSessions:mine, authSessions:revoke, authSessions:revokeOthers.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.errors import FunctionError
from api.functions._common import Id, NoArgs, document, document_model
from api.registry import NULL, Args, Context, mutation, query
from api.services.audit import audit
from api.settings import get_settings
from api.vocabulary import ADMIN, CREDENTIALS_CHANGED, PEOPLE
from models import AuthSession

auth_sessions = AuthSession.__table__
AuthSessionDoc = document_model(AuthSession, "AuthSession", current=bool)


@query("authSessions:mine", args=NoArgs, returns=list[AuthSessionDoc], allow=PEOPLE)
def my_sessions(ctx: Context, args: NoArgs) -> list[dict[str, Any]]:
    """The caller's live sign-in sessions, newest first; `current` marks this one."""
    rows = ctx.conn.execute(
        sa.select(auth_sessions)
        .where(
            auth_sessions.c.user_id == ctx.caller.id,
            auth_sessions.c.revoked_time.is_(None),
            auth_sessions.c.expires_time > ctx.now,
            auth_sessions.c.last_seen_time > ctx.now - get_settings().session_idle_seconds * 1000,
        )
        .order_by(auth_sessions.c.last_seen_time.desc())
    ).all()
    return [
        {**document(AuthSession, row), "current": row.id == ctx.caller.session_id} for row in rows
    ]


class RevokeSessionArgs(Args):
    sessionId: Id


@mutation("authSessions:revoke", args=RevokeSessionArgs, returns=NULL, allow=PEOPLE)
def revoke_session(ctx: Context, args: RevokeSessionArgs) -> None:
    """Ends one of the caller's own sessions (admins: anyone's)."""
    where = [auth_sessions.c.id == args.sessionId, auth_sessions.c.revoked_time.is_(None)]
    if ctx.caller.grant != ADMIN:
        where.append(auth_sessions.c.user_id == ctx.caller.id)
    ended = ctx.conn.execute(
        sa.update(auth_sessions)
        .where(*where)
        .values(revoked_time=ctx.now)
        .returning(auth_sessions.c.user_id)
    ).first()
    if ended is None:
        raise FunctionError(f"Session {args.sessionId} not found")
    audit(ctx, "session.revoke", ended.user_id, {"sessionId": args.sessionId})
    ctx.emit(CREDENTIALS_CHANGED, {})


@mutation("authSessions:revokeOthers", args=NoArgs, returns=int, allow=PEOPLE)
def revoke_other_sessions(ctx: Context, args: NoArgs) -> int:
    """Signs the caller out everywhere else; returns how many sessions ended."""
    ended = ctx.conn.execute(
        sa.update(auth_sessions)
        .where(
            auth_sessions.c.user_id == ctx.caller.id,
            auth_sessions.c.revoked_time.is_(None),
            auth_sessions.c.id != (ctx.caller.session_id or ""),
        )
        .values(revoked_time=ctx.now)
    ).rowcount
    audit(ctx, "session.revoke_others", ctx.caller.id, {"ended": ended})
    ctx.emit(CREDENTIALS_CHANGED, {})
    return ended
