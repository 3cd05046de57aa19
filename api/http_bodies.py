"""What the HTTP endpoints share (api/http.py, api/exports.py, the sync socket and the console's
cookie routes): errors answered as JSON, reading a JSON body within its limit, and Convex's
encoded JSON. Apart from api/http.py so that the modules it mounts need not import it.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from api.errors import FunctionError
from api.registry import MAX_JSON_DEPTH
from api.settings import get_settings


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(error: HttpError) -> JSONResponse:
    """The JSON body every endpoint answers an HttpError with: {code, message}, its headers."""
    return JSONResponse(
        {"code": error.code, "message": error.message}, error.status, headers=error.headers
    )


async def read_json_object(request: Request, limit: int | None = None) -> dict[str, Any]:
    """The body as a JSON object, whatever the Content-Type says. 413 over the limit (default
    MAX_BODY_BYTES), 400 if it is not a JSON object. Nothing over the limit is read or parsed."""
    limit = get_settings().max_body_bytes if limit is None else limit
    declared = request.headers.get("content-length")
    too_large = HttpError(413, "PayloadTooLarge", f"Request body is larger than {limit} bytes")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    if declared is not None and declared.isdigit():
        raw = await request.body()  # the server holds the body to its declared length
    else:  # chunked: count as it arrives
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        raw = b"".join(chunks)
    if not raw.strip():
        raise HttpError(400, "BadJsonBody", "Request body is empty; send a JSON object")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise HttpError(400, "BadJsonBody", "Request body is not UTF-8 JSON") from None
    except ValueError as exc:  # JSONDecodeError, or an integer too long to convert
        raise HttpError(400, "BadJsonBody", f"Request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HttpError(400, "BadJsonBody", "Request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise HttpError(400, "BadJsonBody", "Request body must be a JSON object")
    return body


def decode_convex_json(value: Any, depth: int = 0) -> Any:
    """Convex's encoded JSON: {"$integer": base64 int64} and {"$float": base64 float64}."""
    if depth > MAX_JSON_DEPTH:
        raise FunctionError(f"args is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    if isinstance(value, list):
        return [decode_convex_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key in ("$integer", "$float"):
                try:
                    raw = base64.b64decode(inner, validate=True)
                    return struct.unpack("<q" if key == "$integer" else "<d", raw)[0]
                except (ValueError, TypeError, struct.error):
                    raise FunctionError(f"{key} value is not valid base64 of 8 bytes") from None
            if key.startswith("$"):
                raise FunctionError(f"Unsupported encoded value type {key!r}")
        return {key: decode_convex_json(item, depth + 1) for key, item in value.items()}
    return value
