"""Credentials: passwords (bcrypt), person session tokens and backend API keys (random, stored as
SHA-256), reading an Authorization header or the session cookie, and the caller one key or one
session stands for. Which kind a credential is, and the short cache of verified ones, is
api/credentials.py's (it also knows the JWTs of api/sync/convex_auth.py, which build on this).

Tokens and keys carry 256 random bits, so a fast hash is the right tool for them; bcrypt is for
people's passwords, which are guessable.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from typing import Any

import bcrypt
import sqlalchemy as sa

from api.db import get_engine
from api.errors import FunctionError
from api.registry import Caller
from api.settings import get_settings
from api.writer import get_writer
from models import ApiKey, AuthSession, User

API_KEY_PREFIX = "tlk_"
SESSION_TOKEN_PREFIX = "tls_"
# The console's session cookie (HttpOnly, set by the server only: app/session_cookie.py).
SESSION_COOKIE = "threadline_session"
# last-used / last-seen times are written at most this often per key or session.
TOUCH_EVERY_MS = 60_000
MIN_PASSWORD_BYTES = 8
MAX_PASSWORD_BYTES = 72  # bcrypt ignores everything after 72 bytes

api_keys = ApiKey.__table__
auth_sessions = AuthSession.__table__
users = User.__table__

# A real hash to check against when the email is unknown, so both answers take as long.
_DUMMY_HASH: bytes | None = None


def now_ms() -> float:
    return time.time() * 1000.0


def sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_session_token() -> str:
    return SESSION_TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_password_policy(password: str) -> None:
    size = len(password.encode())
    if size < MIN_PASSWORD_BYTES:
        raise FunctionError(f"password must be at least {MIN_PASSWORD_BYTES} characters")
    if size > MAX_PASSWORD_BYTES:
        raise FunctionError(
            f"password must be at most {MAX_PASSWORD_BYTES} bytes "
            "(bcrypt's limit; fewer characters if they are not ASCII)"
        )


def hash_password(password: str) -> str:
    check_password_policy(password)
    rounds = get_settings().bcrypt_rounds
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not there is a hash to check against."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = bcrypt.hashpw(b"no such user", bcrypt.gensalt(get_settings().bcrypt_rounds))
    candidate = password.encode()[:MAX_PASSWORD_BYTES]
    if password_hash is None:
        bcrypt.checkpw(candidate, _DUMMY_HASH)
        return False
    return bcrypt.checkpw(candidate, password_hash.encode())


def parse_authorization(header: str | None) -> str | None:
    """The credential from `Bearer <x>` or `Convex <x>` (Convex admin clients' form)."""
    if not header:
        return None
    scheme, _, credential = header.strip().partition(" ")
    if scheme.lower() not in ("bearer", "convex") or not credential.strip():
        return None
    return credential.strip()


def cookie_token(cookie_header: str | None) -> str:
    """The session token in a Cookie header ("" if none, or not a session token)."""
    if not cookie_header:
        return ""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return ""
    morsel = jar.get(SESSION_COOKIE)
    value = morsel.value if morsel is not None else ""
    return value if value.startswith(SESSION_TOKEN_PREFIX) and len(value) < 200 else ""


_KEY_BY_HASH = sa.select(api_keys.c.id, api_keys.c.name, api_keys.c.last_used_time).where(
    api_keys.c.key_hash == sa.bindparam("b_hash"), api_keys.c.revoked_time.is_(None)
)


def caller_for_key(digest: str) -> Caller | None:
    """The backend an API key's SHA-256 stands for (its last use noted), or None if revoked."""
    with get_engine().connect() as conn:
        row = conn.execute(_KEY_BY_HASH, {"b_hash": digest}).first()
    if row is None:
        return None
    now = now_ms()
    if row.last_used_time is None or now - row.last_used_time > TOUCH_EVERY_MS:
        _touch(api_keys, row.id, last_used_time=now)
    return Caller(kind="key", id=row.id, label=row.name)


def caller_for_session(token: str) -> Caller | None:
    """The person a live session token stands for (the session marked as in use), or None."""
    session = live_session(token)
    return None if session is None else caller_from_session(session)


def live_session(token: str) -> dict[str, Any] | None:
    """session_for_token, and the session marked as in use (its idle expiry counts from now;
    written at most once a minute)."""
    session = session_for_token(token)
    if session is not None:
        now = now_ms()
        if now - session["last_seen_time"] > TOUCH_EVERY_MS:
            _touch(auth_sessions, session["id"], last_seen_time=now)
    return session


def caller_from_session(session: dict[str, Any]) -> Caller:
    return Caller(
        kind="user",
        id=session["user_id"],
        label=session["email"],
        role=session["role"],
        session_id=session["id"],
    )


def session_for_token(token: str) -> dict[str, Any] | None:
    """The live session behind a person's token (with the person's role), or None."""
    return session_for_digest(sha256(token))


def session_for_digest(token_hash: str) -> dict[str, Any] | None:
    """session_for_token, by the token's SHA-256 (what the console binds a tab to)."""
    return sessions_for_digests([token_hash]).get(token_hash)


# Live sessions read per statement by sessions_for_digests (well under SQLite's variable limit).
_DIGESTS_PER_READ = 500


def sessions_for_digests(token_hashes: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The live sessions behind these token SHA-256s (with each person's role), keyed by
    digest; a digest that is not a live session is absent. One statement per 500 digests, so
    that re-checking every open console tab costs one read, not one per tab."""
    settings = get_settings()
    now = now_ms()
    wanted = list(dict.fromkeys(token_hashes))
    found: dict[str, dict[str, Any]] = {}
    if not wanted:
        return found
    with get_engine().connect() as conn:
        for start in range(0, len(wanted), _DIGESTS_PER_READ):
            rows = conn.execute(
                sa.select(
                    auth_sessions.c.token_hash,
                    auth_sessions.c.id,
                    auth_sessions.c.user_id,
                    auth_sessions.c.last_seen_time,
                    auth_sessions.c.expires_time,
                    users.c.email,
                    users.c.name,
                    users.c.role,
                )
                .join(users, users.c.id == auth_sessions.c.user_id)
                .where(
                    auth_sessions.c.token_hash.in_(wanted[start : start + _DIGESTS_PER_READ]),
                    auth_sessions.c.revoked_time.is_(None),
                    auth_sessions.c.expires_time > now,
                    auth_sessions.c.last_seen_time > now - settings.session_idle_seconds * 1000,
                    users.c.disabled.is_(False),
                )
            )
            for row in rows:
                session = dict(row._mapping)
                found[session.pop("token_hash")] = session
    return found


def live_sessions_by_digest(token_hashes: Iterable[str]) -> dict[str, dict[str, Any]]:
    """sessions_for_digests, each session found marked as in use, as live_session does."""
    found = sessions_for_digests(token_hashes)
    now = now_ms()
    for session in found.values():
        if now - session["last_seen_time"] > TOUCH_EVERY_MS:
            _touch(auth_sessions, session["id"], last_seen_time=now)
    return found


def session_deadline(session: dict[str, Any]) -> float:
    """When (ms) a live session ends unless it is used meanwhile: its absolute expiry, or its
    idle expiry counted from its last recorded use, whichever comes first."""
    idle_ms = get_settings().session_idle_seconds * 1000
    return min(session["expires_time"], session["last_seen_time"] + idle_ms)


def _touch(table: sa.Table, row_id: str, **values: float) -> None:
    def run(conn):
        conn.execute(sa.update(table).where(table.c.id == row_id).values(**values))
        return None, []

    try:
        get_writer(get_engine(), get_settings().max_batch).submit_nowait(run)
    except RuntimeError:  # no running event loop (CLI): bookkeeping can wait
        pass


async def hash_password_async(password: str) -> str:
    """bcrypt takes ~0.25 s at cost 12: never on the event loop."""
    return await asyncio.to_thread(hash_password, password)
