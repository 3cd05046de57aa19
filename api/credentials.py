"""Which caller a credential stands for: an API key, a person's session token (header or
cookie) or a JWT from auth:signIn, each checked where it is defined (api/auth.py for keys and
sessions, api/sync/convex_auth.py for JWTs), and verified ones remembered briefly.

This sits above both: api/sync/convex_auth.py signs people in (api/services/signin.py) and builds
on api/auth.py, so api/auth.py cannot be where the kinds meet without an import cycle. Callers:
api/http.py, api/exports.py, api/ingest.py, api/sync/server.py.
"""

from __future__ import annotations

import time

from api import auth
from api.events import bus
from api.registry import Caller
from api.settings import get_settings
from api.sync.convex_auth import caller_for_jwt
from api.vocabulary import CREDENTIALS_CHANGED

# Verified credentials, remembered briefly so that a backend streaming hundreds of posts a second
# costs one lookup a second, not one per post. Revoking a key, disabling a person, changing a role
# or signing out publishes CREDENTIALS_CHANGED, which empties the cache at once in this process
# (and, with REDIS_URL, in every worker); AUTH_CACHE_SECONDS bounds the rest (the CLI, say).
# (Keyed by the credential itself, which this process holds anyway while serving the request.)
_verified: dict[str, tuple[Caller, float]] = {}
_MAX_CACHED = 10_000


def forget_credentials(*_event: object) -> None:
    _verified.clear()


bus.add_listener(CREDENTIALS_CHANGED, forget_credentials)


async def caller_for(credential: str | None) -> Caller | None:
    """The caller a credential stands for, or None if it is unknown, revoked or expired."""
    if not credential:
        return None
    cached = _verified.get(credential)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    digest = auth.sha256(credential)
    if credential.startswith(auth.API_KEY_PREFIX):
        caller = auth.caller_for_key(digest)
    elif credential.startswith(auth.SESSION_TOKEN_PREFIX):
        caller = auth.caller_for_session(credential)
    elif credential.startswith("eyJ"):  # a JWT from auth:signIn (Convex auth clients)
        verified = caller_for_jwt(credential)
        caller = None if verified is None else verified[0]
    else:
        caller = None
    ttl = get_settings().auth_cache_seconds
    if caller is not None and ttl > 0:
        if len(_verified) >= _MAX_CACHED:
            _verified.clear()
        _verified[credential] = (caller, time.monotonic() + ttl)
    return caller
