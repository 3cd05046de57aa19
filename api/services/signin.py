"""Signing a person in and out: password check, throttling, session tokens, audit entries.

Callers: /api/auth/signin (api/http.py), @convex-dev/auth's auth:signIn (api/sync/convex_auth.py),
the console's sign-in and set-password pages (app/pages/signin.py, set_password.py) and its
session cookie (app/session_cookie.py).
"""

from __future__ import annotations

import asyncio
import math
import weakref
from dataclasses import dataclass

import sqlalchemy as sa

from api import auth
from api.clients import throttle_key
from api.db import get_engine
from api.registry import Caller, Context, next_creation_time
from api.services.audit import audit
from api.settings import get_settings
from api.vocabulary import CREDENTIALS_CHANGED
from api.writer import get_writer
from models import AuditEntry, AuthSession, User
from models.ids import new_id

users = User.__table__
auth_sessions = AuthSession.__table__
audit_log = AuditEntry.__table__

WINDOW_MS = 24 * 3600 * 1000  # failures older than this are forgotten
KNOWN_CLIENT_MS = 30 * 24 * 3600 * 1000  # a client that signed in to an account this recently
MAX_EMAIL = 320  # RFC 5321's longest address


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: below `free` failures no wait; then 1 s, 2 s, 4 s, ... up to `cap`."""

    free: int
    cap_seconds: float = 3600.0
    base_seconds: float = 1.0

    def delay_seconds(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        steps = failures - self.free
        if steps > 62:
            return self.cap_seconds
        return min(self.base_seconds * 2**steps, self.cap_seconds)

    @property
    def saturation(self) -> int:
        """The failure count from which the delay no longer grows (no need to count further)."""
        failures = self.free
        while self.delay_seconds(failures) < self.cap_seconds:
            failures += 1
        return failures


# See docs/security.md, "Sign-in and throttling", for why these three and these numbers.
PER_ACCOUNT_AND_CLIENT = Backoff(free=5)  # always applies
# All clients together, once failures come from this many clients (a single attacker, or two,
# never hold back the owner's new device); only for clients new to the account.
PER_ACCOUNT = Backoff(free=5)
PER_ACCOUNT_MIN_CLIENTS = 3
PER_CLIENT = Backoff(free=30)  # one client over all accounts; only on accounts new to it


class SignInFailed(Exception):
    """Unknown email, wrong password or disabled account: one answer for all three."""


class BadSignInInput(ValueError):
    """An email or password that cannot belong to any account, refused before any hashing."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after_seconds: int) -> None:
        if retry_after_seconds < 60:
            wait = f"{retry_after_seconds} second{'s' if retry_after_seconds != 1 else ''}"
        else:
            minutes = -(-retry_after_seconds // 60)
            wait = f"{minutes} minute{'s' if minutes != 1 else ''}"
        super().__init__(f"Too many failed sign-in attempts; try again in {wait}")
        self.retry_after_seconds = retry_after_seconds


@dataclass
class SignedIn:
    token: str
    expires_time: float
    user_id: str
    role: str


def check_input(email: str, password: str) -> str:
    """The email as accounts store it, or BadSignInInput: cheap checks that need no database and
    no bcrypt, so that oversized input costs nothing (no account can have such an email, and no
    password is longer than bcrypt's 72 bytes: the policy refuses to set one)."""
    email = (email or "").strip().lower()
    if len(email) > MAX_EMAIL:
        raise BadSignInInput(f"email must be at most {MAX_EMAIL} characters")
    if len((password or "").encode("utf-8", "surrogatepass")) > auth.MAX_PASSWORD_BYTES:
        raise BadSignInInput(f"password must be at most {auth.MAX_PASSWORD_BYTES} bytes")
    return email


def _failures(conn, *conditions, since: float, limit: int) -> list:
    return conn.execute(
        sa.select(audit_log.c.creation_time, audit_log.c.actor_label)
        .where(
            audit_log.c.action == "signin.failure",
            audit_log.c.creation_time > since,
            *conditions,
        )
        .order_by(audit_log.c.creation_time.desc())
        .limit(limit)
    ).all()


def _client_column_is(client: str | None):
    return (
        audit_log.c.actor_label.is_(None) if client is None else audit_log.c.actor_label == client
    )


def _wait(times: list[float], failures: int, backoff: Backoff, now: float) -> float:
    """Seconds until the backoff allows the next attempt (0 if it does now)."""
    if not times:
        return 0.0
    return max(0.0, max(times) + backoff.delay_seconds(failures) * 1000 - now) / 1000


def _last_success(conn, user_id: str | None, client: str | None, since: float) -> float | None:
    """When this client last signed in to this account (within `since`), from its sessions."""
    if user_id is None or client is None:
        return None
    rows = conn.execute(
        sa.select(auth_sessions.c.creation_time, auth_sessions.c.ip)
        .where(auth_sessions.c.user_id == user_id, auth_sessions.c.creation_time > since)
        .order_by(auth_sessions.c.creation_time.desc())
        .limit(500)
    ).all()
    return next((row.creation_time for row in rows if throttle_key(row.ip) == client), None)


def throttle(
    email: str, ip: str | None, *, user_id: str | None = None, known_client: bool = False
) -> None:
    """Raises TooManyAttempts if the next password check for `email` from client address `ip`
    must wait. `user_id`: the account behind the email, if there is one (a client that signed in
    to it recently is held back only by its own failures). Reusable by any sign-in path: call it
    before checking the password, and `record_failure` after a wrong one. `known_client`: the
    caller has proved a past sign-in to this account otherwise (a live session of it)."""
    now = auth.now_ms()
    client = throttle_key(ip)
    email = email[:200]
    with get_engine().connect() as conn:
        known_since = _last_success(conn, user_id, client, now - KNOWN_CLIENT_MS)
        since = max(now - WINDOW_MS, known_since or 0)
        known = known_client or known_since is not None
        mine = _failures(
            conn,
            audit_log.c.target == email,
            _client_column_is(client),
            since=since,
            limit=PER_ACCOUNT_AND_CLIENT.saturation,
        )
        waits = [_wait([r.creation_time for r in mine], len(mine), PER_ACCOUNT_AND_CLIENT, now)]
        if not known:
            everyone = _failures(
                conn, audit_log.c.target == email, since=now - WINDOW_MS, limit=500
            )
            if len({row.actor_label for row in everyone}) >= PER_ACCOUNT_MIN_CLIENTS:
                times = [row.creation_time for row in everyone]
                waits.append(_wait(times, len(everyone), PER_ACCOUNT, now))
            if client is not None:
                anywhere = _failures(
                    conn,
                    _client_column_is(client),
                    since=now - WINDOW_MS,
                    limit=PER_CLIENT.saturation,
                )
                waits.append(
                    _wait([r.creation_time for r in anywhere], len(anywhere), PER_CLIENT, now)
                )
    wait = max(waits)
    if wait > 0:
        raise TooManyAttempts(max(1, math.ceil(wait)))


# Attempts on one account, or from one address, are checked one at a time (in this process), so
# that a burst of parallel guesses cannot all pass the throttle before the first failure is
# recorded. (bcrypt makes each attempt take ~0.25 s anyway.)
_attempt_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def _lock(key: str) -> asyncio.Lock:
    lock = _attempt_locks.get(key)
    if lock is None:
        lock = _attempt_locks[key] = asyncio.Lock()
    return lock


async def sign_in(
    email: str,
    password: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    after_link: bool = False,
) -> SignedIn:
    """Checks the password (throttled, see `throttle`) and opens a session. `ip`: the client's
    address as api/clients.py found it. `after_link`: the caller has just redeemed a one-time
    link for this account (setup, set or reset password), which proves more than a password: no
    throttle then, so that a reset link gets its owner in even while strangers are guessing.
    BadSignInInput for input no account can match (before any database work or hashing)."""
    email = check_input(email, password)
    client = throttle_key(ip)
    locks = sorted({f"email:{email}", f"ip:{client}"})
    async with _lock(locks[0]), _lock(locks[1]):
        return await _sign_in(email, password, ip=ip, user_agent=user_agent, after_link=after_link)


async def record_failure(email: str, reason: str, ip: str | None, **details: object) -> None:
    """A failed password check, counted by the throttle: per account (the email) and per client
    (`throttle_key(ip)`, kept as the entry's actor label; the exact address goes in details)."""
    attempt = Caller(kind="system", id="anonymous", label=throttle_key(ip) or "")
    if ip is not None:
        details = {"ip": ip, **details}

    def record(conn):
        ctx = Context(conn=conn, caller=attempt, now=next_creation_time())
        audit(ctx, "signin.failure", email[:200], {"reason": reason, **details})
        return None, []

    await get_writer(get_engine(), get_settings().max_batch).submit(record)


async def _sign_in(
    email: str, password: str, *, ip: str | None, user_agent: str | None, after_link: bool
) -> SignedIn:
    with get_engine().connect() as conn:
        user = conn.execute(
            sa.select(users.c.id, users.c.role, users.c.password_hash, users.c.disabled).where(
                users.c.email == email
            )
        ).first()
    if not after_link:  # (database reads: off the event loop, like the bcrypt check)
        await asyncio.to_thread(throttle, email, ip, user_id=user.id if user is not None else None)
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
        return result is not None, [(CREDENTIALS_CHANGED, {})]

    return await get_writer(get_engine(), get_settings().max_batch).submit(revoke)
