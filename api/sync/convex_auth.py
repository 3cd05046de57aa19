"""@convex-dev/auth (0.0.95) sign-in with its Password provider, so that `ConvexAuthProvider` and
`useAuthActions().signIn("password", form)` work against Threadline unchanged.

    auth:signIn  {provider: "password", params: {email, password, flow: "signIn"}}
                 -> {tokens: {token: <JWT>, refreshToken}}
    auth:signIn  {refreshToken} -> {tokens: {...}} (a new pair), or {tokens: null}
    auth:signOut (as the signed-in person) -> null

Both are actions: `POST /api/action` (api/http.py) and `Action` frames on the sync socket.

- The password check, its throttle and the audit entries are /api/auth/signin's
  (api/services/signin.py): a sign-in here opens an ordinary Threadline session, and the JWT
  names it: sub is "<userId>|<sessionId>". Ending that session (sign-out, disabled person,
  expiry) ends the JWT and its refresh tokens with it.
- The JWT is HS256 (PyJWT), valid one hour, with iss, aud "convex", sub, iat and exp. The key is
  JWT_SECRET if set, else one made on first use and kept in the database (`server_secrets`), so
  that every worker signs and checks with the same key.
- Refresh tokens rotate: the first use issues a child; a second use within 10 s (two tabs, a
  retried request) issues another; a use after that means the token leaked, and ends the session.
- `flow: "signUp"` is refused: accounts are made by admins.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt
import sqlalchemy as sa

from api import auth, clients
from api.db import get_engine
from api.errors import FunctionError
from api.registry import Caller, Context, next_creation_time
from api.services import signin
from api.services.audit import audit
from api.settings import get_settings
from api.vocabulary import CREDENTIALS_CHANGED
from api.writer import get_writer
from models import AuthSession, RefreshToken, ServerSecret, User
from models.ids import new_id

JWT_SECONDS = 3600
JWT_AUDIENCE = "convex"
REFRESH_REUSE_WINDOW_MS = 10_000
REFRESH_TOKEN_PREFIX = "tlr_"
ACTIONS = ("auth:signIn", "auth:signOut")

refresh_tokens = RefreshToken.__table__
server_secrets = ServerSecret.__table__
auth_sessions = AuthSession.__table__
users = User.__table__

_key_cache: dict[str, str] = {}


def signing_key() -> str:
    """JWT_SECRET, or the key made on first use and stored for every worker."""
    configured = get_settings().jwt_secret
    if configured:
        return configured
    url = get_settings().sqlalchemy_url
    if url in _key_cache:
        return _key_cache[url]
    select = sa.select(server_secrets.c.value).where(server_secrets.c.name == "jwt")
    with get_engine().begin() as conn:
        value = conn.execute(select).scalar()
        if value is None:
            # Two workers may race here: the second insert fails and it reads the first's key.
            try:
                with conn.begin_nested():
                    conn.execute(
                        sa.insert(server_secrets).values(
                            name="jwt", value=secrets.token_urlsafe(48), creation_time=time.time()
                        )
                    )
            except sa.exc.IntegrityError:
                pass
            value = conn.execute(select).scalar()
    _key_cache[url] = value
    return value


def issuer() -> str:
    return get_settings().console_url


def mint_jwt(user_id: str, session_id: str) -> str:
    now = int(time.time())
    claims = {
        "sub": f"{user_id}|{session_id}",
        "iss": issuer(),
        "aud": JWT_AUDIENCE,
        "iat": now,
        "exp": now + JWT_SECONDS,
    }
    return jwt.encode(claims, signing_key(), algorithm="HS256")


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2 and credential.startswith("eyJ")


def caller_for_jwt(token: str) -> tuple[Caller, float] | None:
    """The person behind a JWT of ours and its expiry (epoch seconds), if the JWT is valid and its
    session is still live; else None."""
    if not looks_like_jwt(token):
        return None
    try:
        claims = jwt.decode(
            token,
            signing_key(),
            algorithms=["HS256"],
            audience=JWT_AUDIENCE,
            issuer=issuer(),
            options={"require": ["sub", "iat", "exp"]},
        )
    except jwt.PyJWTError:
        return None
    user_id, _, session_id = str(claims["sub"]).partition("|")
    session = _live_session(session_id)
    if session is None or session["user_id"] != user_id:
        return None
    return auth.caller_from_session(session), float(claims["exp"])


def _live_session(session_id: str) -> dict[str, Any] | None:
    settings = get_settings()
    now = auth.now_ms()
    with get_engine().connect() as conn:
        row = conn.execute(
            sa.select(
                auth_sessions.c.id,
                auth_sessions.c.user_id,
                auth_sessions.c.expires_time,
                users.c.email,
                users.c.role,
            )
            .join(users, users.c.id == auth_sessions.c.user_id)
            .where(
                auth_sessions.c.id == session_id,
                auth_sessions.c.revoked_time.is_(None),
                auth_sessions.c.expires_time > now,
                auth_sessions.c.last_seen_time > now - settings.session_idle_seconds * 1000,
                users.c.disabled.is_(False),
            )
        ).first()
    return None if row is None else dict(row._mapping)


# --- the actions -----------------------------------------------------------------------------


async def run_action(path: object, raw_args: object, caller: Caller | None, client: Any) -> Any:
    """Runs auth:signIn or auth:signOut. `client` is the HTTP request or WebSocket (for the
    address and user agent the sign-in throttle and audit use)."""
    name = path.strip().removesuffix(".js") if isinstance(path, str) else path
    if isinstance(name, str) and "/" in name and ":" not in name:
        module, _, function = name.rpartition("/")
        name = f"{module}:{function}"
    if name not in ACTIONS:
        raise FunctionError(
            f"Could not find public function for {name!r}: the actions here are "
            f"{', '.join(ACTIONS)}; queries and mutations go through /api/query and /api/mutation"
        )
    args = _one_object(raw_args)
    if name == "auth:signOut":
        return await _sign_out(caller)
    if "refreshToken" in args:
        token = args["refreshToken"]
        if not isinstance(token, str):
            raise FunctionError("refreshToken must be a string")
        return {"tokens": await refresh(token)}
    return await _sign_in_with_password(args, client)


def _one_object(raw: object) -> dict[str, Any]:
    if isinstance(raw, list):
        if len(raw) != 1:
            raise FunctionError("args must be an object or an array holding exactly one object")
        raw = raw[0]
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise FunctionError(f"args must be an object, not {type(raw).__name__}")
    return raw


async def _sign_in_with_password(args: dict[str, Any], client: Any) -> dict[str, Any]:
    provider = args.get("provider")
    if provider != "password":
        raise FunctionError(
            f'Unknown sign-in provider {provider!r}: Threadline offers only "password"'
        )
    params = args.get("params") or {}
    if not isinstance(params, dict):
        raise FunctionError("params must be an object")
    flow = params.get("flow", "signIn")
    if flow == "signUp":
        raise FunctionError(
            "Sign-up is not available: accounts are made by an admin (ask one for an invitation)"
        )
    if flow != "signIn":
        raise FunctionError(f'The password flow {flow!r} is not supported; use "signIn"')
    email, password = params.get("email"), params.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        raise FunctionError("params.email and params.password must be strings")
    headers = getattr(client, "headers", None)
    try:
        session = await signin.sign_in(
            email,
            password,
            ip=_client_address(client),
            user_agent=headers.get("user-agent") if headers is not None else None,
        )
    except signin.BadSignInInput as exc:
        raise FunctionError(str(exc)) from None
    except signin.TooManyAttempts as exc:
        raise FunctionError(str(exc)) from None
    except signin.SignInFailed as exc:
        raise FunctionError(f"InvalidSecret: {exc}") from None
    details = auth.session_for_token(session.token)
    if details is None:  # ended in the instant since: as if the sign-in had failed
        raise FunctionError("The session ended before it could be used; sign in again")
    tokens = await _issue(details["id"], session.user_id, None, session.expires_time)
    return {"tokens": tokens}


def _client_address(client: Any) -> str | None:
    """The HTTP request's or WebSocket's client address, through TRUSTED_PROXIES as for
    /api/auth/signin, so that both count towards the same throttle."""
    peer = getattr(getattr(client, "client", None), "host", None)
    headers = getattr(client, "headers", None)
    forwarded = headers.getlist("x-forwarded-for") if hasattr(headers, "getlist") else None
    return clients.client_address(peer, forwarded)


async def _issue(
    session_id: str, user_id: str, parent_id: str | None, expires_time: float
) -> dict[str, str]:
    refresh_token = REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)

    def record(conn):
        conn.execute(
            sa.insert(refresh_tokens).values(
                id=new_id("refresh_tokens"),
                creation_time=next_creation_time(),
                session_id=session_id,
                parent_id=parent_id,
                token_hash=auth.sha256(refresh_token),
                expires_time=expires_time,
            )
        )
        return None, []

    await get_writer(get_engine(), get_settings().max_batch).submit(record)
    return {"token": mint_jwt(user_id, session_id), "refreshToken": refresh_token}


async def refresh(token: str) -> dict[str, str] | None:
    """A new token pair for a refresh token, or None (unknown, expired, or reused too late)."""
    digest = auth.sha256(token)
    with get_engine().connect() as conn:
        row = conn.execute(
            sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == digest)
        ).first()
    if row is None:
        return None
    session = _live_session(row.session_id)
    now = auth.now_ms()
    if session is None or row.expires_time <= now:
        return None
    writer = get_writer(get_engine(), get_settings().max_batch)

    def mark_used(conn):
        # Only the first use marks it; the conditional UPDATE decides races between workers.
        first = conn.execute(
            sa.update(refresh_tokens)
            .where(refresh_tokens.c.id == row.id, refresh_tokens.c.first_used_time.is_(None))
            .values(first_used_time=now)
        ).rowcount
        conn.execute(
            sa.update(auth_sessions)
            .where(auth_sessions.c.id == row.session_id)
            .values(last_seen_time=now)
        )
        return bool(first), []

    first_use = await writer.submit(mark_used)
    if not first_use and (row.first_used_time or now) + REFRESH_REUSE_WINDOW_MS < now:
        await _end_session(row.session_id, session["user_id"], "refresh token reused")
        return None
    return await _issue(row.session_id, session["user_id"], row.id, session["expires_time"])


async def _sign_out(caller: Caller | None) -> None:
    if caller is None or caller.kind != "user" or caller.session_id is None:
        raise FunctionError("Unauthenticated: sign in first; there is no session to end")
    await _end_session(caller.session_id, caller.id, "auth:signOut")
    return None


async def _end_session(session_id: str, user_id: str, reason: str) -> None:
    def revoke(conn):
        now = next_creation_time()
        ended = conn.execute(
            sa.update(auth_sessions)
            .where(auth_sessions.c.id == session_id, auth_sessions.c.revoked_time.is_(None))
            .values(revoked_time=now)
        ).rowcount
        if ended:
            ctx = Context(conn=conn, caller=Caller(kind="user", id=user_id), now=now)
            audit(ctx, "signout", user_id, {"reason": reason})
        return None, [(CREDENTIALS_CHANGED, {})]

    await get_writer(get_engine(), get_settings().max_batch).submit(revoke)
