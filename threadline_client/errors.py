"""What the client raises.

ThreadlineError            every error below; .message, .data, .path
├── FunctionError          the function refused the call (HTTP 200, status: error):
│                          .message is the server's errorMessage, .data its errorData
├── TransportError         no function result came back; .status_code (None: no reply)
│   ├── NetworkError       connection refused or dropped, timeout          (retried)
│   ├── Unauthenticated    401: missing, unknown, revoked or expired key  (not retried)
│   ├── PayloadTooLarge    413: the body is over the server's limit       (not retried)
│   ├── RateLimited        429; .retry_after in seconds, if the server said (retried)
│   ├── ServerError        5xx; .retry_after                               (retried)
│   └── BadRequest         400 or any other unexpected reply             (not retried)
├── QueueFull              post(): the queue stayed full for queue_timeout seconds
└── ClientClosed           the client was closed before the write could be sent
"""

from __future__ import annotations

from typing import Any


class ThreadlineError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self, message: str, *, data: dict[str, Any] | None = None, path: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.data = data
        self.path = path


class FunctionError(ThreadlineError):
    """The server ran nothing or rolled it back and answered `status: error`: bad arguments,
    not found, a conflict, or not allowed for this caller. Never retried: it would fail again."""


class TransportError(ThreadlineError):
    """The call produced no function result: a network failure or an HTTP error status."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message, path=path)
        self.status_code = status_code
        self.retry_after = retry_after


class NetworkError(TransportError):
    """No reply: the connection failed, was dropped, or timed out."""

    retryable = True


class Unauthenticated(TransportError):
    """401: the API key (or session token) is missing, unknown, revoked or expired."""


class PayloadTooLarge(TransportError):
    """413: the request body is larger than the server accepts (16 MiB by default)."""


class RateLimited(TransportError):
    """429: too many requests; `retry_after` says how long the server asked to wait."""

    retryable = True


class ServerError(TransportError):
    """5xx: the server (or a proxy in front of it) failed; nothing was committed."""

    retryable = True


class BadRequest(TransportError):
    """400 (the body is not a JSON object) or another status the API never sends on purpose,
    e.g. 404 from a wrong base URL."""


class QueueFull(ThreadlineError):
    """`post()` found the queue full and no room freed up within `queue_timeout` seconds."""


class ClientClosed(ThreadlineError):
    """The client was closed (or the interpreter exited) before this write could be sent."""
