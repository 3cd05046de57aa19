"""The fast lane for streamed messages: `POST /api/mutation` with `messages:create`, answered in
front of the console's ASGI stack.

Backends stream an agent's output as many small `messages:create` calls. Through the full stack
each one passes two Starlette apps (Reflex's and the API's), two CORS and two error middlewares,
a router, a Request object, the JSON module and pydantic; measured, that cost several times what
storing the message costs. `IngestFront` wraps the whole server app and takes only the common
shape of that one call, with the same steps the full path takes and in the same order:

    credential -> caller (auth's cache) -> may the caller call it -> arguments checked
    -> the same group-commit write as `api.calls.call` (ack only after COMMIT)

Everything else goes to the wrapped app untouched, with the body replayed: other paths, other
functions, browser (CORS) requests, and every call the lane does not *know* to be valid (unknown
or bad credentials, other fields, metadata, an explicit order, text that needs a closer look,
JSON that the fast decoder refuses). Those get exactly the answers and errors the full stack
gives, so the lane can only make a valid call faster, never answer a call differently. Its own
answers carry the same security headers as the full stack's (api/headers.py), precomputed.
"""

from __future__ import annotations

import json
import os
from typing import Any

import orjson

from api import auth, credentials
from api.calls import call_validated
from api.errors import FunctionError, NotAllowed, Unavailable
from api.functions.messages import CreateArgs
from api.headers import API_RAW_HEADERS
from api.registry import REGISTRY, check_allowed, has_unstorable_text
from api.settings import get_settings
from api.vocabulary import MESSAGE_ROLES

PATH = "/api/mutation"
FUNCTION = "messages:create"
MAX_ID = 1000  # as api.functions._common.Id
MAX_TEXT = 8 * 1024 * 1024  # as api.functions._common.Text
FIELDS = frozenset({"threadId", "role", "content", "order", "metadata"})
BODY_FIELDS = frozenset({"path", "args", "format", "idempotencyKey"})


class IngestFront:
    """ASGI wrapper: serves the fast lane, hands everything else to `app`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.worker = str(os.getpid()).encode()
        self.served = 0  # calls the lane answered itself (tests check the lane is taken)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        authorization = length = key = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                length = value
            elif name == b"idempotency-key":
                key = value if key is None else key
            elif name == b"origin":  # a browser: CORS is the full stack's
                return await self.app(scope, receive, send)
        if authorization is None or length is None or not length.isdigit():
            return await self.app(scope, receive, send)
        if int(length) > get_settings().max_body_bytes:
            return await self.app(scope, receive, send)
        body = await _read_body(receive)
        if body is None:  # the client went away before sending its body
            return
        answer = await self._serve(authorization, key, body)
        if answer is None:
            return await self.app(scope, _replay(body, receive), send)
        status, payload, extra = answer
        headers = [
            (b"content-length", str(len(payload)).encode()),
            (b"content-type", b"application/json"),
            *API_RAW_HEADERS,  # what api.headers.SecurityHeaders puts on every other answer
            *extra,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _serve(
        self, authorization: bytes, header_key: bytes | None, body: bytes
    ) -> tuple[int, bytes, list] | None:
        """The answer (status, body, headers), or None to leave the call to the full stack."""
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        args = _plain_create_args(request)
        if args is None:
            return None
        key = request.get("idempotencyKey") if header_key is None else header_key.decode("latin-1")
        if key is not None and (type(key) is not str or not key):
            return None  # the full stack words these errors
        caller = await credentials.caller_for(
            auth.parse_authorization(authorization.decode("latin-1"))
        )
        if caller is None:
            return None
        spec = REGISTRY[FUNCTION]
        try:
            check_allowed(spec, caller)
        except NotAllowed:
            return None
        try:
            value = await call_validated(spec, args, caller, key)
        except FunctionError as exc:
            error: dict[str, Any] = {"status": "error", "errorMessage": exc.message, "logLines": []}
            if exc.data is not None:
                error["errorData"] = exc.data
            return 200, _json(error), []
        except Unavailable as exc:
            answer = {"code": "Unavailable", "message": str(exc)}
            return 503, _json(answer), [(b"retry-after", b"1")]
        self.served += 1
        payload = orjson.dumps({"status": "success", "value": value, "logLines": []})
        return 200, payload, [(b"x-threadline-worker", self.worker)]


def _plain_create_args(request: Any) -> CreateArgs | None:
    """messages:create's arguments if the request is the plain streaming shape and they are
    valid by the same rules as `CreateArgs` and `check_json`; None for anything else."""
    if type(request) is not dict or request.get("path") != FUNCTION:
        return None
    if not BODY_FIELDS.issuperset(request) or request.get("format", "json") != "json":
        return None
    raw = request.get("args")
    if type(raw) is not dict or not FIELDS.issuperset(raw):
        return None
    thread_id, role, content = raw.get("threadId"), raw.get("role"), raw.get("content")
    if raw.get("order") is not None or raw.get("metadata") is not None:
        return None
    if type(thread_id) is not str or type(role) is not str or type(content) is not str:
        return None
    if role not in MESSAGE_ROLES or len(thread_id) > MAX_ID or len(content) > MAX_TEXT:
        return None
    if has_unstorable_text(thread_id) or has_unstorable_text(content):
        return None
    # Known valid: the model is built without validating again (what model_construct does,
    # without its per-field bookkeeping, which cost more than the checks above).
    args = object.__new__(CreateArgs)
    values = {"threadId": thread_id, "role": role, "content": content}
    object.__setattr__(args, "__dict__", {**values, "order": None, "metadata": None})
    object.__setattr__(args, "__pydantic_fields_set__", set(values))
    object.__setattr__(args, "__pydantic_extra__", None)
    object.__setattr__(args, "__pydantic_private__", None)
    return args


async def _read_body(receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(body: bytes, receive):
    """A `receive` that hands the already-read body to the wrapped app, then the real channel."""
    sent = False

    async def replayed():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _json(value: Any) -> bytes:
    # As Starlette's JSONResponse writes it (the full stack's errors look the same).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def create_served_api() -> IngestFront:
    """The API as the production server sees it (without the console): the lane in front."""
    from api.http import create_api

    return IngestFront(create_api())
