"""The HTTP API agent backends post to, in Convex's wire format (see docs/api.md).

    POST /api/mutation   {"path": "artifacts:create", "args": {...}, "format"?: "json"}
    POST /api/query      {"path": "threads:get", "args": {...}}
    POST /api/run/{module}/{function}   {"args": {...}}
    POST /api/action     {"path": "auth:signIn", "args": {...}}  (@convex-dev/auth, api/sync)
    POST /api/auth/signin {email, password} -> {token, expiresTime}
    POST /api/auth/signout
    GET  /version, GET /api/health
    GET  /api/{clientVersion}/sync   WebSocket: Convex's sync protocol (api/sync, docs/convex.md)
    GET  /api/openapi.json   (OpenAPI 3.1, built from the registry: api/openapi.py)
    GET  /api/export/...     downloads as attachments (api/exports.py)

`create_api()` builds a Starlette app that Reflex serves in front of the console
(`rx.App(api_transformer=...)`); tests use it directly through httpx.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
from typing import Any

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute

from api import __version__, auth, clients, credentials
from api.calls import call, off_loop
from api.db import get_engine
from api.errors import FunctionError, Unavailable
from api.exports import ROUTES as EXPORT_ROUTES
from api.http_bodies import HttpError, decode_convex_json, error_response, read_json_object
from api.registry import Caller, has_unstorable_text
from api.services import signin
from api.settings import get_settings
from api.sync import convex_auth
from api.sync.server import sync_endpoint

log = logging.getLogger(__name__)


async def authenticate(request: Request) -> Caller:
    credential = auth.parse_authorization(request.headers.get("authorization"))
    caller = await credentials.caller_for(credential)
    if caller is None:
        message = (
            "Missing credentials: send 'Authorization: Bearer <API key or session token>'"
            if credential is None
            else "The API key or session token is not valid (unknown, revoked or expired)"
        )
        raise HttpError(401, "Unauthenticated", message)
    return caller


async def _function_endpoint(request: Request, kind: str | None, path: str | None) -> Response:
    try:
        caller = await authenticate(request)
        body = await read_json_object(request)
    except HttpError as error:
        return error_response(error)
    idempotency_key = request.headers.get("idempotency-key") or body.get("idempotencyKey")
    try:
        fmt = body.get("format", "json")
        if fmt not in ("json", "convex_encoded_json"):
            raise FunctionError("format must be 'json' or 'convex_encoded_json'")
        if idempotency_key is not None and not isinstance(idempotency_key, str):
            raise FunctionError("idempotencyKey must be a string")
        args = body.get("args", {})
        if fmt == "convex_encoded_json":
            args = decode_convex_json(args)
        value = await call(
            body.get("path") if path is None else path,
            args,
            caller,
            kind=kind,
            idempotency_key=idempotency_key,
        )
    except FunctionError as exc:
        payload: dict[str, Any] = {"status": "error", "errorMessage": exc.message, "logLines": []}
        if exc.data is not None:
            payload["errorData"] = exc.data
        return JSONResponse(payload)
    except Unavailable as exc:
        return error_response(HttpError(503, "Unavailable", str(exc), {"Retry-After": "1"}))
    payload = {"status": "success", "value": value, "logLines": []}
    # Which worker process answered (for operators and the multi-worker tests).
    headers = {"X-Threadline-Worker": str(os.getpid())}
    if isinstance(value, dict | list):
        # A document or list can be as large as writers made it (every message of a long
        # thread): encoded in the query threads, so the event loop never waits on it.
        return Response(await off_loop(_encode, payload), headers=headers, media_type=JSON_TYPE)
    return JSONResponse(payload, headers=headers)


JSON_TYPE = "application/json"


def _encode(payload: Any) -> bytes:
    """What JSONResponse would send, built off the loop."""
    return json.dumps(
        payload, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


async def mutation_endpoint(request: Request) -> Response:
    return await _function_endpoint(request, "mutation", None)


async def query_endpoint(request: Request) -> Response:
    return await _function_endpoint(request, "query", None)


async def run_endpoint(request: Request) -> Response:
    return await _function_endpoint(request, None, request.path_params["path"])


async def action_endpoint(request: Request) -> Response:
    """Convex's /api/action, for @convex-dev/auth's auth:signIn / auth:signOut. Credentials are
    optional here (a sign-in has none yet); auth:signOut needs them."""
    try:
        credential = auth.parse_authorization(request.headers.get("authorization"))
        caller = await credentials.caller_for(credential)
        if credential is not None and caller is None:
            raise HttpError(401, "Unauthenticated", "The token is not valid (unknown or ended)")
        # Without credentials (a sign-in, a refresh) only a small body is read, as for signin.
        limit = get_settings().anonymous_body_bytes if caller is None else None
        body = await read_json_object(request, limit)
    except HttpError as error:
        return error_response(error)
    try:
        args = body.get("args", {})
        if body.get("format", "json") == "convex_encoded_json":
            args = decode_convex_json(args)
        value = await convex_auth.run_action(body.get("path"), args, caller, request)
    except FunctionError as exc:
        return JSONResponse({"status": "error", "errorMessage": exc.message, "logLines": []})
    except Unavailable as exc:
        return error_response(HttpError(503, "Unavailable", str(exc), {"Retry-After": "1"}))
    return JSONResponse({"status": "success", "value": value, "logLines": []})


def client_address(request: Request) -> str | None:
    """The client's address: the peer, or what trusted proxies say (TRUSTED_PROXIES)."""
    peer = request.client.host if request.client else None
    return clients.client_address(peer, request.headers.getlist("x-forwarded-for"))


async def signin_endpoint(request: Request) -> Response:
    try:
        # Anyone may call this: read only a small body (an email and a password fit in 4 KiB).
        body = await read_json_object(request, get_settings().anonymous_body_bytes)
    except HttpError as error:
        return error_response(error)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str):
        return error_response(
            HttpError(400, "BadRequest", 'Send {"email": string, "password": string}')
        )
    if has_unstorable_text(email) or has_unstorable_text(password):
        return error_response(
            HttpError(
                400,
                "BadRequest",
                "email and password must not contain NUL characters or unpaired surrogates",
            )
        )
    try:
        session = await signin.sign_in(
            email,
            password,
            ip=client_address(request),
            user_agent=request.headers.get("user-agent"),
        )
    except signin.BadSignInInput as exc:
        return error_response(HttpError(400, "BadRequest", str(exc)))
    except signin.TooManyAttempts as exc:
        headers = {"Retry-After": str(exc.retry_after_seconds)}
        return error_response(HttpError(429, "TooManyAttempts", str(exc), headers))
    except signin.SignInFailed as exc:
        return error_response(HttpError(401, "Unauthenticated", str(exc)))
    except Unavailable as exc:
        return error_response(HttpError(503, "Unavailable", str(exc), {"Retry-After": "1"}))
    return JSONResponse(
        {"token": session.token, "expiresTime": session.expires_time, "userId": session.user_id}
    )


async def signout_endpoint(request: Request) -> Response:
    credential = auth.parse_authorization(request.headers.get("authorization"))
    if not credential or not credential.startswith(auth.SESSION_TOKEN_PREFIX):
        return error_response(HttpError(401, "Unauthenticated", "Send the session token to end"))
    try:
        ended = await signin.sign_out(credential)
    except Unavailable as exc:
        return error_response(HttpError(503, "Unavailable", str(exc), {"Retry-After": "1"}))
    if not ended:
        return error_response(HttpError(401, "Unauthenticated", "That session has already ended"))
    return JSONResponse({"status": "success"})


async def version_endpoint(_request: Request) -> Response:
    return PlainTextResponse(__version__)


async def health_endpoint(_request: Request) -> Response:
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        log.warning("health check: database unreachable: %s", exc)
        return JSONResponse({"status": "error", "db": False}, 503)
    return JSONResponse({"status": "ok", "db": True})


async def openapi_endpoint(_request: Request) -> Response:
    from api.openapi import build_spec

    return JSONResponse(build_spec())


ROUTES = [
    Route("/api/mutation", mutation_endpoint, methods=["POST"]),
    Route("/api/query", query_endpoint, methods=["POST"]),
    Route("/api/run/{path:path}", run_endpoint, methods=["POST"]),
    Route("/api/action", action_endpoint, methods=["POST"]),
    Route("/api/auth/signin", signin_endpoint, methods=["POST"]),
    Route("/api/auth/signout", signout_endpoint, methods=["POST"]),
    Route("/version", version_endpoint, methods=["GET"]),
    Route("/api/health", health_endpoint, methods=["GET"]),
    # Convex's sync protocol (api/sync): the npm client puts its own version in the path; the
    # Rust client (and so PyPI convex) connects to /api/sync.
    WebSocketRoute("/api/{clientVersion}/sync", sync_endpoint),
    WebSocketRoute("/api/sync", sync_endpoint),
    Route("/api/openapi.json", openapi_endpoint, methods=["GET"]),
]


@contextlib.asynccontextmanager
async def _lifespan(_app: Starlette):
    # For as long as the server runs: the webhook sender (api/webhook_sender.py) and the approval
    # deadline watcher (api/deadlines.py). Inside the console, Reflex mounts this app and runs
    # its own lifespan tasks instead (app/app.py).
    from api import deadlines, webhook_sender

    deadlines.start()
    try:
        async with webhook_sender.running():
            yield
    finally:
        await deadlines.stop()


def create_api() -> Starlette:
    from api import log_redaction

    log_redaction.install()  # no tokens, no megabyte lines in the logs (api/log_redaction.py)
    return Starlette(routes=[*ROUTES, *EXPORT_ROUTES], lifespan=_lifespan)


YOUNG_GC_THRESHOLD = 10_000


def freeze_startup_heap() -> None:
    """Moves every object alive at startup (Reflex, SQLAlchemy, the pages: millions) out of the
    garbage collector's sight. A full collection holds the GIL, and one triggered by a big
    request's allocations (a diff of two 100,000-line versions) then scanned them all: measured
    here, the event loop stalled 745 ms; 192 ms after freezing.

    The youngest generation is also collected less often (every YOUNG_GC_THRESHOLD new
    containers, not 700): each request in flight holds a few dozen (its job, future, context)
    until its batch commits, so with 50 in flight nearly every young collection found them alive
    and moved them on to be scanned again. Measured in-process (the ingest lane, 50 in flight):
    403 collections per 20,000 messages at 700, about 2 µs of each message's ~45 µs of CPU;
    none at 10,000."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, oldest)
