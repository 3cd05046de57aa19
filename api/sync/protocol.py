"""The sync protocol's messages, as the `convex` npm package 1.48.0 sends and expects them.

Client frames are JSON text, one message each, tagged by `type`. `parse_client_message` checks a
frame's shape and raises ProtocolError naming the problem; the server then answers FatalError and
closes (as Convex does for a malformed frame). Timestamps travel as the 8 little-endian bytes of a
u64 in padded base64; versions and ids are plain integers.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import Any

# Close codes: 1008 policy violation (bad frame), 1009 too big, 1011 server trouble (the client
# reconnects after ~1 s), 4040 is what Convex sends when it stops a session on purpose.
CLOSE_PROTOCOL = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_NORMAL = 1000

MAX_U32 = 2**32 - 1
CLIENT_TYPES = {"Connect", "ModifyQuerySet", "Mutation", "Action", "Authenticate", "Event"}
TOKEN_TYPES = {"User", "Admin", "None"}


class ProtocolError(Exception):
    """A frame the protocol does not allow; the message is sent to the client as is."""


def encode_ts(value: int) -> str:
    return base64.b64encode(struct.pack("<Q", value)).decode()


def decode_ts(text: object) -> int:
    if not isinstance(text, str):
        raise ProtocolError("timestamp must be a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
        return struct.unpack("<Q", raw)[0]
    except (ValueError, struct.error):
        raise ProtocolError("timestamp must be the base64 of 8 bytes") from None


class Clock:
    """Transition timestamps: nanoseconds since the epoch, strictly increasing in this process
    and kept below 2^63 (the client's Long compares equal values above it wrongly)."""

    def __init__(self) -> None:
        self._last = 0

    def now(self) -> int:
        value = max(time.time_ns(), self._last + 1)
        self._last = value
        return value

    @property
    def latest(self) -> int:
        return self._last


clock = Clock()


def _int(message: dict, key: str, *, optional: bool = False) -> int | None:
    value = message.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_U32:
        raise ProtocolError(f"{message['type']}.{key} must be an integer from 0 to {MAX_U32}")
    return value


def _str(message: dict, key: str, *, optional: bool = False, limit: int = 1000) -> str | None:
    value = message.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ProtocolError(f"{message['type']}.{key} must be a string of at most {limit} chars")
    return value


def _args(message: dict) -> Any:
    args = message.get("args", [{}])
    if not isinstance(args, list) or len(args) != 1:
        raise ProtocolError(f"{message['type']}.args must be an array holding one object")
    return args[0]


def parse_client_message(text: str) -> dict[str, Any]:
    """The frame as a dict, its fields checked; ProtocolError otherwise."""
    try:
        message = json.loads(text)
    except RecursionError:
        raise ProtocolError("message is nested too deeply") from None
    except ValueError as exc:
        raise ProtocolError(f"message is not valid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("message must be a JSON object")
    kind = message.get("type")
    if kind not in CLIENT_TYPES:
        raise ProtocolError(f"unknown message type {kind!r}")
    if kind == "Connect":
        _str(message, "sessionId", limit=100)
        _int(message, "connectionCount", optional=True)
        if message.get("maxObservedTimestamp") is not None:
            decode_ts(message["maxObservedTimestamp"])
        client_ts = message.get("clientTs")
        if client_ts is not None and (
            isinstance(client_ts, bool) or not isinstance(client_ts, int | float)
        ):
            raise ProtocolError("Connect.clientTs must be a number")
    elif kind == "ModifyQuerySet":
        _int(message, "baseVersion")
        _int(message, "newVersion")
        modifications = message.get("modifications")
        if not isinstance(modifications, list):
            raise ProtocolError("ModifyQuerySet.modifications must be an array")
        for modification in modifications:
            if not isinstance(modification, dict):
                raise ProtocolError("each modification must be an object")
            modification.setdefault("type", None)
            if modification["type"] == "Add":
                _int(modification, "queryId")
                _str(modification, "udfPath", limit=200)
                _args(modification)
            elif modification["type"] == "Remove":
                _int(modification, "queryId")
            else:
                raise ProtocolError(f"unknown modification type {modification['type']!r}")
    elif kind in ("Mutation", "Action"):
        _int(message, "requestId")
        _str(message, "udfPath", limit=200)
        _args(message)
    elif kind == "Authenticate":
        if message.get("tokenType") not in TOKEN_TYPES:
            raise ProtocolError("Authenticate.tokenType must be User, Admin or None")
        _int(message, "baseVersion")
        if message["tokenType"] != "None":
            _str(message, "value", limit=8192)
    return message


def canonical_path(path: str) -> str:
    """Convex's canonical function path: "dir/messages.js:list" -> "dir/messages:list" (the Rust
    client sends the module with its .js suffix)."""
    module, colon, function = path.partition(":")
    return module.removesuffix(".js") + colon + function


# --- server frames ---------------------------------------------------------------------------


def version(query_set: int, identity: int, ts: int) -> dict[str, Any]:
    return {"querySet": query_set, "identity": identity, "ts": encode_ts(ts)}


def transition(
    start: tuple[int, int, int],
    end: tuple[int, int, int],
    modifications: list,
    skew: float,
    server_ts: int | None = None,
) -> dict[str, Any]:
    return {
        "type": "Transition",
        "startVersion": version(*start),
        "endVersion": version(*end),
        "modifications": modifications,
        # Both or neither (the client warns of a slow transition when only one is right); both
        # integers (the Rust client refuses a float).
        "clientClockSkew": round(skew),
        "serverTs": time.time_ns() if server_ts is None else server_ts,
    }


def transition_text(
    start: tuple[int, int, int],
    end: tuple[int, int, int],
    modifications: list[str],
    skew: float,
    server_ts: int | None = None,
) -> str:
    """`json.dumps(transition(...))`, byte for byte, assembled around modifications that are
    already JSON text: a value shared by many sockets is encoded once, not once per socket."""
    server_ts = time.time_ns() if server_ts is None else server_ts
    return (
        f'{{"type": "Transition", "startVersion": {json.dumps(version(*start))}, '
        f'"endVersion": {json.dumps(version(*end))}, '
        f'"modifications": [{", ".join(modifications)}], '
        f'"clientClockSkew": {round(skew)}, "serverTs": {server_ts}}}'
    )


def query_updated(query_id: int, value: Any, journal: Any) -> dict[str, Any]:
    return {
        "type": "QueryUpdated",
        "queryId": query_id,
        "value": value,
        "logLines": [],
        "journal": journal,
    }


def query_updated_text(query_id: int, value_text: str, journal: Any) -> str:
    """`json.dumps(query_updated(...))`, byte for byte, around a value already encoded."""
    return (
        f'{{"type": "QueryUpdated", "queryId": {query_id}, "value": {value_text}, '
        f'"logLines": [], "journal": {json.dumps(journal)}}}'
    )


def query_failed(query_id: int, message: str, journal: Any, data: Any = None) -> dict[str, Any]:
    failed = {
        "type": "QueryFailed",
        "queryId": query_id,
        "errorMessage": message,
        "logLines": [],
        "journal": journal,
    }
    if data is not None:
        failed["errorData"] = data
    return failed


def query_removed(query_id: int) -> dict[str, Any]:
    return {"type": "QueryRemoved", "queryId": query_id}


def mutation_response(
    request_id: int, ok: bool, result: Any, ts: int | None, data: Any = None
) -> dict[str, Any]:
    response = {
        "type": "MutationResponse",
        "requestId": request_id,
        "success": ok,
        "result": result,
        "ts": encode_ts(ts) if ok and ts is not None else None,
        "logLines": [],
    }
    if data is not None:
        response["errorData"] = data
    return response


def action_response(request_id: int, ok: bool, result: Any, data: Any = None) -> dict[str, Any]:
    response = {
        "type": "ActionResponse",
        "requestId": request_id,
        "success": ok,
        "result": result,
        "logLines": [],
    }
    if data is not None:
        response["errorData"] = data
    return response


def auth_error(message: str, base_version: int, attempted: bool) -> dict[str, Any]:
    return {
        "type": "AuthError",
        "error": message,
        "baseVersion": base_version,
        "authUpdateAttempted": attempted,
    }


def fatal_error(message: str) -> dict[str, Any]:
    return {"type": "FatalError", "error": message}


PING = {"type": "Ping"}


def close_reason(text: str) -> str:
    """A WebSocket close reason fits in 123 bytes of UTF-8."""
    encoded = text.encode()[:123]
    return encoded.decode(errors="ignore")
