"""Threadline client for agent backends: store threads, messages, artifacts, tool calls and SDK
sessions, and wait for people's approvals, over Threadline's HTTP API (Convex's wire format).

    from threadline_client import Threadline

    client = Threadline("http://localhost:3000", api_key)
    thread_id = client.threads.create(title="Refund request #4411")
    client.messages.post_create(thread_id, "assistant", "Looking into it...")  # fire and forget
    request_id = client.approvals.create(thread_id, plan)
    decision = client.approvals.wait(request_id, timeout=3600)

Needs only httpx and the standard library. See docs/client.md.
"""

__version__ = "0.1.0"

from threadline_client._sender import Counters  # noqa: E402
from threadline_client.client import AsyncThreadline, Threadline  # noqa: E402
from threadline_client.errors import (  # noqa: E402
    BadRequest,
    ClientClosed,
    FunctionError,
    NetworkError,
    PayloadTooLarge,
    QueueFull,
    RateLimited,
    ServerError,
    ThreadlineError,
    TransportError,
    Unauthenticated,
)

__all__ = [
    "AsyncThreadline",
    "BadRequest",
    "ClientClosed",
    "Counters",
    "FunctionError",
    "NetworkError",
    "PayloadTooLarge",
    "QueueFull",
    "RateLimited",
    "ServerError",
    "Threadline",
    "ThreadlineError",
    "TransportError",
    "Unauthenticated",
    "__version__",
]
