"""The wire protocol and the retry loop, shared by both client flavours and the sender.

Requests are Convex's: `POST /api/mutation` or `/api/query` with `{"path", "args", "format"}`.
A mutation carries an `Idempotency-Key` that stays the same across its retries, so that a retry
after a lost reply returns the first result instead of applying the write again.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from threadline_client import __version__
from threadline_client.errors import (
    BadRequest,
    ClientClosed,
    FunctionError,
    NetworkError,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    ThreadlineError,
    TransportError,
    Unauthenticated,
)

log = logging.getLogger("threadline_client")

Kind = Literal["query", "mutation"]
USER_AGENT = f"threadline-client/{__version__} httpx/{httpx.__version__}"
# A Retry-After longer than this is taken as this (a misconfigured proxy must not park a write
# for hours).
MAX_RETRY_AFTER = 300.0
# Called before each retry with (path, error, delay in seconds); the sender counts retries.
OnRetry = Callable[[str, ThreadlineError, float], None]


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry a call that failed for a retryable reason, and how long to wait:
    `backoff * 2**n` seconds (at most `max_backoff`), half of it random, or what the server's
    Retry-After says."""

    retries: int
    backoff: float
    max_backoff: float

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry)."""
        ceiling = min(self.max_backoff, self.backoff * 2**attempt)
        jittered = ceiling / 2 + random.uniform(0, ceiling / 2)
        if retry_after is None:
            return jittered
        # The server said when to come back: do so, spread by a little jitter so that many
        # clients told the same thing do not return in the same instant.
        return min(retry_after, MAX_RETRY_AFTER) + random.uniform(0, min(1.0, ceiling / 2))


def encode(path: str, args: Mapping[str, Any] | None) -> bytes:
    """The request body. Encoded when the call is made, so that a posted dict the caller changes
    afterwards is sent as it was, and unserializable arguments fail in the caller's code."""
    if not isinstance(path, str) or not path:
        raise ValueError("path must be a function path like 'messages:create'")
    body = {"path": path, "args": {} if args is None else dict(args), "format": "json"}
    problem = unreadable_key(body["args"], "args")
    if problem is not None:
        raise ValueError(f"{path}: {problem}")
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


# The server refuses object keys that the official Convex clients cannot read back (see
# docs/api.md, "JSON keys"); a posted write would only fail later, in the background.
MAX_KEY_LENGTH = 1024


def unreadable_key(value: Any, where: str) -> str | None:
    """The server's message for the first object key in `value` it would refuse, else None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not (
                0 < len(key) <= MAX_KEY_LENGTH
                and key[0] != "$"
                and key.isascii()
                and key.isprintable()
            ):
                return _key_message(where, key)
            found = unreadable_key(item, f"{where}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = unreadable_key(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def _key_message(where: str, key: str) -> str:
    shown = json.dumps(key if len(key) <= 60 else key[:60] + "...", ensure_ascii=False)
    if not key:
        reason = "keys must not be empty"
    elif len(key) > MAX_KEY_LENGTH:
        reason = f"keys must be at most {MAX_KEY_LENGTH} characters long"
    elif key[0] == "$":
        reason = "keys starting with '$' are reserved by Convex"
    else:
        reason = "keys must be printable ASCII, without control characters"
    return (
        f"{where} has the key {shown}, which Convex clients cannot read ({reason}); "
        "rename it, or send the value as a JSON string (e.g. JSON.stringify / json.dumps)"
    )


def default_headers(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def decode(response: httpx.Response, path: str) -> Any:
    """The function's value, or the matching ThreadlineError."""
    status = response.status_code
    if status == 200:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("status") == "success":
            return body.get("value")
        if isinstance(body, dict) and body.get("status") == "error":
            message = body.get("errorMessage") or f"{path} failed without a message"
            raise FunctionError(message, data=body.get("errorData"), path=path)
        raise BadRequest(
            f"{path}: HTTP 200 without a Convex reply; is the URL a Threadline server?",
            status_code=status,
            path=path,
        )
    message = f"{path}: HTTP {status}: {_reason(response)}"
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    kind: type[TransportError]
    if status == 401:
        kind = Unauthenticated
    elif status == 413:
        kind = PayloadTooLarge
    elif status == 429:
        kind = RateLimited
    elif status >= 500:
        kind = ServerError
    else:
        kind = BadRequest
    raise kind(message, status_code=status, retry_after=retry_after, path=path)


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    return response.reason_phrase


def network_error(exc: httpx.HTTPError, path: str) -> ThreadlineError:
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return BadRequest(f"{path}: {exc}", path=path)
    return NetworkError(f"{path}: {type(exc).__name__}: {exc}", path=path)


def is_retryable(error: ThreadlineError) -> bool:
    return isinstance(error, TransportError) and error.retryable


def _request_headers(kind: Kind, idempotency_key: str | None) -> dict[str, str]:
    if kind == "mutation" and idempotency_key:
        return {"Idempotency-Key": idempotency_key}
    return {}


class SyncTransport:
    """One httpx.Client (a keep-alive connection pool, safe to share between threads) and the
    retry loop around it."""

    def __init__(self, url: str, api_key: str, timeout: float) -> None:
        self.timeout = timeout
        self.http = httpx.Client(base_url=url, headers=default_headers(api_key), timeout=timeout)

    def call(
        self,
        kind: Kind,
        path: str,
        body: bytes,
        *,
        policy: RetryPolicy,
        idempotency_key: str | None = None,
        extra_timeout: float = 0.0,
        on_retry: OnRetry | None = None,
        stop: threading.Event | None = None,
    ) -> Any:
        """Send until success, a final failure or `stop` is set during a backoff wait."""
        headers = _request_headers(kind, idempotency_key)
        timeout = self.timeout + extra_timeout
        attempt = 0
        while True:
            try:
                try:
                    response = self.http.post(
                        f"/api/{kind}", content=body, headers=headers, timeout=timeout
                    )
                except httpx.HTTPError as exc:
                    raise network_error(exc, path) from exc
                return decode(response, path)
            except ThreadlineError as error:
                if not is_retryable(error) or attempt >= policy.retries:
                    raise
                delay = policy.delay(attempt, getattr(error, "retry_after", None))
                log.info("retrying %s in %.2f s after: %s", path, delay, error)
                if on_retry is not None:
                    on_retry(path, error, delay)
                if stop is None:
                    time.sleep(delay)
                elif stop.wait(delay):
                    raise ClientClosed(
                        f"{path}: not sent, the client closed while waiting to retry ({error})",
                        path=path,
                    ) from error
                attempt += 1

    def close(self) -> None:
        self.http.close()


class AsyncTransport:
    """The same for asyncio: one httpx.AsyncClient, awaited calls only."""

    def __init__(self, url: str, api_key: str, timeout: float) -> None:
        self.timeout = timeout
        self.http = httpx.AsyncClient(
            base_url=url, headers=default_headers(api_key), timeout=timeout
        )

    async def call(
        self,
        kind: Kind,
        path: str,
        body: bytes,
        *,
        policy: RetryPolicy,
        idempotency_key: str | None = None,
        extra_timeout: float = 0.0,
    ) -> Any:
        headers = _request_headers(kind, idempotency_key)
        timeout = self.timeout + extra_timeout
        attempt = 0
        while True:
            try:
                try:
                    response = await self.http.post(
                        f"/api/{kind}", content=body, headers=headers, timeout=timeout
                    )
                except httpx.HTTPError as exc:
                    raise network_error(exc, path) from exc
                return decode(response, path)
            except ThreadlineError as error:
                if not is_retryable(error) or attempt >= policy.retries:
                    raise
                delay = policy.delay(attempt, getattr(error, "retry_after", None))
                log.info("retrying %s in %.2f s after: %s", path, delay, error)
                await asyncio.sleep(delay)
                attempt += 1

    async def aclose(self) -> None:
        await self.http.aclose()
