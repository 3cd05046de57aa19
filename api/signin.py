"""Signing a person in and out: password check, throttling, session tokens, audit entries."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

import sqlalchemy as sa

from api import auth
from api.db import get_engine
from api.functions._common import audit
from api.registry import Caller, Context, next_creation_time
from api.settings import get_settings
from api.writer import get_writer
from models import AuditEntry, AuthSession, User
from models.ids import new_id

users = User.__table__
auth_sessions = AuthSession.__table__
audit_log = AuditEntry.__table__

MAX_FAILURES_PER_ACCOUNT = 10  # per hour
MAX_FAILURES_PER_ADDRESS = 50  # per hour, across accounts
WINDOW_MS = 3600 * 1000


class SignInFailed(Exception):
    """Unknown email, wrong password or disabled account: one answer for all three."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after_seconds: int) -> None:
        minutes = max(1, -(-retry_after_seconds // 60))
        super().__init__(f"Too many failed sign-in attempts; try again in {minutes} minutes")
        self.retry_after_seconds = retry_after_seconds


@dataclass
class SignedIn:
    token: str
    expires_time: float
    user_id: str
    role: str


def throttle(email: str, ip: str | None) -> None:
    """Raises TooManyAttempts once an account or an address has too many recent failures."""
    now = auth.now_ms()
    since = now - WINDOW_MS
    failures = sa.select(audit_log.c.creation_time).where(
        audit_log.c.action == "signin.failure", audit_log.c.creation_time > since
    )
    with get_engine().connect() as conn:
        for column, value, limit in (
            (audit_log.c.target, email, MAX_FAILURES_PER_ACCOUNT),
            (audit_log.c.actor_label, ip, MAX_FAILURES_PER_ADDRESS),
        ):
            if value is None:
                continue
            times = (
                conn.execute(
                    failures.where(column == value)
                    .order_by(audit_log.c.creation_time.desc())
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            if len(times) >= limit:
                oldest = times[-1]
                raise TooManyAttempts(int((oldest + WINDOW_MS - now) / 1000) + 1)


# Attempts on one account, or from one address, are checked one at a time (in this process), so
# that a burst of parallel guesses cannot all pass the throttle before the first failure is
# recorded. (bcrypt makes each attempt take ~0.25 s anyway.)
_attempt_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
MAX_EMAIL = 320


def _lock(key: str) -> asyncio.Lock:
    lock = _attempt_locks.get(key)
    if lock is None:
        lock = _attempt_locks[key] = asyncio.Lock()
    return lock


async def sign_in(
    email: str, password: str, *, ip: str | None = None, user_agent: str | None = None
) -> SignedIn:
    email = (email or "").strip().lower()
    if len(email) > MAX_EMAIL:
        # No account has such an email: answer as for any unknown one, after the same work.
        await asyncio.to_thread(auth.verify_password, password or "", None)
        raise SignInFailed("Wrong email or password")
    locks = sorted({f"email:{email}", f"ip:{ip}"})
    async with _lock(locks[0]), _lock(locks[1]):
        return await _sign_in(email, password, ip=ip, user_agent=user_agent)


async def record_failure(email: str, reason: str, ip: str | None, **details: object) -> None:
    """A failed password check, counted by the throttle (per account and per address)."""
    attempt = Caller(kind="system", id="anonymous", label=ip or "")

    def record(conn):
        ctx = Context(conn=conn, caller=attempt, now=next_creation_time())
        audit(ctx, "signin.failure", email[:200], {"reason": reason, **details})
        return None, []

    await get_writer(get_engine(), get_settings().max_batch).submit(record)


async def _sign_in(
    email: str, password: str, *, ip: str | None, user_agent: str | None
) -> SignedIn:
    throttle(email[:200], ip)
    with get_engine().connect() as conn:
        user = conn.execute(
            sa.select(users.c.id, users.c.role, users.c.password_hash, users.c.disabled).where(
                users.c.email == email
            )
        ).first()
    password_hash = user.password_hash if user is not None else None
    ok = await asyncio.to_thread(auth.verify_password, password or "", password_hash)
    writer = get_writer(get_engine(), get_settings().max_batch)

    if not ok or user is None or user.disabled:
        reason = "unknown email" if user is None else ("disabled" if ok else "wrong password")
        await record_failure(email, reason, ip, userAgent=user_agent)
        raise SignInFailed("Wrong email or password")

    token = auth.new_session_token()
    settings = get_settings()

    def record_success(conn):
        now = next_creation_time()
        expires = now + settings.session_absolute_seconds * 1000
        conn.execute(
            sa.insert(auth_sessions).values(
                id=new_id("auth_sessions"),
                creation_time=now,
                user_id=user.id,
                token_hash=auth.sha256(token),
                expires_time=expires,
                last_seen_time=now,
                user_agent=(user_agent or "")[:400] or None,
                ip=ip,
            )
        )
        ctx = Context(
            conn=conn, caller=Caller(kind="user", id=user.id, label=email, role=user.role), now=now
        )
        audit(ctx, "signin.success", user.id, {"ip": ip, "userAgent": user_agent})
        return expires, []

    expires = await writer.submit(record_success)
    return SignedIn(token=token, expires_time=expires, user_id=user.id, role=user.role)


async def sign_out(token: str) -> bool:
    """Ends the session behind `token` at once. False if it was not a live session."""
    token_hash = auth.sha256(token)

    def revoke(conn):
        result = conn.execute(
            sa.update(auth_sessions)
            .where(auth_sessions.c.token_hash == token_hash, auth_sessions.c.revoked_time.is_(None))
            .values(revoked_time=next_creation_time())
            .returning(auth_sessions.c.user_id)
        ).first()
        if result is not None:
            ctx = Context(
                conn=conn, caller=Caller(kind="user", id=result.user_id), now=next_creation_time()
            )
            audit(ctx, "signout", result.user_id)
        return result is not None, [("credentials:changed", {})]

    return await get_writer(get_engine(), get_settings().max_batch).submit(revoke)
