"""`Threadline` (blocking) and `AsyncThreadline` (asyncio): the two flavours of the client.

Both have the same three ways to call a function:

- `mutation(path, args)` and `query(path, args)` send now, wait, and return the function's value
  or raise: FunctionError (a subclass of ThreadlineError) with the server's errorMessage and
  errorData, or a TransportError subclass for 401, 413, 429, 5xx and network failures.
- `post(path, args)` queues a mutation and returns at once; a pool of background workers sends it
  (see `_sender.py` and docs/client.md for ordering, retries and the queue-full policy).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Hashable, Mapping
from typing import Any

from threadline_client._sender import Counters, OnFailure, Sender, Write
from threadline_client._wire import AsyncTransport, RetryPolicy, SyncTransport, encode
from threadline_client.async_resources import (
    AsyncApprovals,
    AsyncArtifacts,
    AsyncMessages,
    AsyncSessions,
    AsyncThreads,
    AsyncToolCalls,
)
from threadline_client.errors import ClientClosed, QueueFull
from threadline_client.resources import (
    Approvals,
    Artifacts,
    Messages,
    Sessions,
    Threads,
    ToolCalls,
)

DEFAULT_URL = "http://localhost:3000"
# How often an async post() whose queue is full looks for room again, and async flush() for
# an empty queue (both hand off to worker threads, which cannot wake an event loop directly).
ASYNC_POLL_SECONDS = 0.02


def _lane(args: Mapping[str, Any] | None) -> Hashable:
    """Posts into one thread keep their order; so do posts about one artifact (its updates).
    Anything else may be sent in any order."""
    if args:
        thread_id = args.get("threadId")
        if isinstance(thread_id, str):
            return ("thread", thread_id)
        artifact_id = args.get("artifactId")
        if isinstance(artifact_id, str):
            return ("artifact", artifact_id)
    return object()


class _Base:
    """The constructor and background sending both flavours share; see `Threadline`."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        call_retries: int = 2,
        post_retries: int = 8,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_queue: int = 10_000,
        queue_timeout: float | None = 10.0,
        concurrency: int = 8,
        on_failure: OnFailure | None = None,
        exit_timeout: float = 10.0,
    ) -> None:
        url = url or os.environ.get("THREADLINE_URL") or DEFAULT_URL
        api_key = api_key or os.environ.get("THREADLINE_API_KEY")
        if not api_key:
            raise ValueError("pass api_key= or set THREADLINE_API_KEY")
        self.url = url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.queue_timeout = queue_timeout
        self.exit_timeout = exit_timeout
        self.call_policy = RetryPolicy(call_retries, backoff, max_backoff)
        self._sender = Sender(
            SyncTransport(self.url, api_key, timeout),
            policy=RetryPolicy(post_retries, backoff, max_backoff),
            max_queue=max_queue,
            concurrency=concurrency,
            on_failure=on_failure,
            exit_timeout=exit_timeout,
        )
        self._connect()

    def _connect(self) -> None:
        """Set up the transport for awaited calls and the typed helpers."""
        raise NotImplementedError

    @property
    def counters(self) -> Counters:
        """Background writes so far: queued, sent, retried (attempts), failed, pending."""
        return self._sender.counters

    def _check_open(self, path: str) -> None:
        if self._sender.closed:
            raise ClientClosed(f"{path}: the client is closed", path=path)

    def _write(self, path: str, args: Mapping[str, Any] | None) -> Write:
        return Write(path, encode(path, args), str(uuid.uuid4()), _lane(args))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


class Threadline(_Base):
    """Blocking client for agent backends. Safe to share between threads.

        client = Threadline("http://localhost:3000", api_key)
        thread_id = client.threads.create(title="Refund request #4411")
        client.messages.post_create(thread_id, "assistant", "On it...")  # returns at once
        client.flush(10)

    `url` and `api_key` default to $THREADLINE_URL (else http://localhost:3000) and
    $THREADLINE_API_KEY.

    Awaited calls (`mutation`, `query` and the helpers that return a value) retry network errors,
    429 and 5xx `call_retries` times; background writes (`post`, the `post_*` helpers) retry them
    `post_retries` times. Waits grow from `backoff` seconds, doubling up to `max_backoff`, half of
    each wait random; a Retry-After from the server is honoured. Every mutation carries an
    Idempotency-Key, so a retry never applies it twice. Function errors and other 4xx are never
    retried.

    Posts are sent by `concurrency` worker threads over one keep-alive connection pool; `timeout`
    bounds each HTTP request, in seconds.

    Queue-full policy: when `max_queue` posted writes are queued or in flight, `post()` waits up
    to `queue_timeout` seconds for room (backpressure on a caller outrunning the server), then
    raises QueueFull; nothing that was queued is ever dropped silently. `queue_timeout=0` raises
    at once, None waits as long as it takes.

    A write that finally fails (a function error, a 4xx, retries used up, or the client closing
    first) is logged on the "threadline_client" logger and passed to
    `on_failure(path, args, error)`, called from a worker thread (from the closing thread for
    writes abandoned by close()); it must not call flush(). At interpreter exit, and when leaving
    a `with` block, queued writes are flushed for up to `exit_timeout` seconds.
    """

    def _connect(self) -> None:
        # Awaited calls share the sender's connection pool: one httpx.Client per client.
        self._transport = self._sender.transport
        self.threads = Threads(self)
        self.messages = Messages(self)
        self.artifacts = Artifacts(self)
        self.sessions = Sessions(self)
        self.tool_calls = ToolCalls(self)
        self.approvals = Approvals(self)

    def mutation(
        self,
        path: str,
        args: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Any:
        """Run a mutation and return its value. A fresh Idempotency-Key (uuid4) is sent unless
        you give one (give your own to make retries across processes safe too)."""
        self._check_open(path)
        return self._transport.call(
            "mutation",
            path,
            encode(path, args),
            policy=self.call_policy,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )

    def query(
        self, path: str, args: Mapping[str, Any] | None = None, *, wait_seconds: float = 0.0
    ) -> Any:
        """Run a query and return its value. `wait_seconds` lengthens the HTTP timeout for
        long-polling queries (approvalRequests:get with waitMs)."""
        self._check_open(path)
        return self._transport.call(
            "query", path, encode(path, args), policy=self.call_policy, extra_timeout=wait_seconds
        )

    def post(self, path: str, args: Mapping[str, Any] | None = None) -> None:
        """Queue a mutation to be sent in the background and return at once (fire and forget).

        For writes into a thread that already exists: posts with the same `threadId` reach the
        server in the order they were posted; others in any order. Nothing comes back; use
        `mutation()` for writes whose result you need (threads:create returns the new thread's
        id). When the queue is full this waits up to `queue_timeout` seconds, then raises
        QueueFull. Arguments are encoded now, so changing the dict afterwards changes nothing.
        """
        self._sender.put(self._write(path, args), self.queue_timeout)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every posted write is sent or has finally failed (and its on_failure has
        run). Returns False if `timeout` seconds passed first. Not from inside on_failure."""
        return self._sender.flush(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Flush (up to `timeout` seconds; None: until done), then stop the workers and close the
        connections. Writes still queued are reported to on_failure as ClientClosed."""
        return self._sender.close(timeout)

    def __enter__(self) -> Threadline:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close(self.exit_timeout)


class AsyncThreadline(_Base):
    """The asyncio flavour: the same constructor and behaviour as `Threadline`, every call awaited.

        async with AsyncThreadline(url, api_key) as client:
            thread_id = await client.threads.create(title="Refund request #4411")
            await client.messages.post_create(thread_id, "assistant", "Looking into it...")

    `mutation` and `query` use an httpx.AsyncClient on your event loop. Posted writes are sent
    by the same worker threads as in `Threadline` (with their own connection pool), so they keep
    going, and are flushed at interpreter exit, even after your event loop has ended. `post` is
    a coroutine so that a full queue waits without blocking the loop; with room it returns at
    once.
    """

    def _connect(self) -> None:
        self._transport = AsyncTransport(self.url, self._api_key, self.timeout)
        self.threads = AsyncThreads(self)
        self.messages = AsyncMessages(self)
        self.artifacts = AsyncArtifacts(self)
        self.sessions = AsyncSessions(self)
        self.tool_calls = AsyncToolCalls(self)
        self.approvals = AsyncApprovals(self)

    async def mutation(
        self,
        path: str,
        args: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Any:
        """Run a mutation and return its value (see `Threadline.mutation`)."""
        self._check_open(path)
        return await self._transport.call(
            "mutation",
            path,
            encode(path, args),
            policy=self.call_policy,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )

    async def query(
        self, path: str, args: Mapping[str, Any] | None = None, *, wait_seconds: float = 0.0
    ) -> Any:
        """Run a query and return its value (see `Threadline.query`)."""
        self._check_open(path)
        return await self._transport.call(
            "query", path, encode(path, args), policy=self.call_policy, extra_timeout=wait_seconds
        )

    async def post(self, path: str, args: Mapping[str, Any] | None = None) -> None:
        """Queue a mutation for the background workers (see `Threadline.post`). Returns at once
        when there is room; with a full queue it waits (without blocking the event loop) up to
        `queue_timeout` seconds, then raises QueueFull."""
        write = self._write(path, args)
        deadline = None if self.queue_timeout is None else time.monotonic() + self.queue_timeout
        while True:
            try:
                self._sender.put(write, 0)
                return
            except QueueFull:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(ASYNC_POLL_SECONDS)

    async def flush(self, timeout: float | None = None) -> bool:
        """Wait until every posted write is sent or has finally failed; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._sender.is_idle():
            if deadline is not None and time.monotonic() >= deadline:
                return False
            await asyncio.sleep(ASYNC_POLL_SECONDS)
        return True

    async def aclose(self, timeout: float | None = None) -> bool:
        """Flush (up to `timeout` seconds), then close both connection pools."""
        flushed = await self.flush(timeout)
        await asyncio.to_thread(self._sender.close, 0)
        await self._transport.aclose()
        return flushed

    async def __aenter__(self) -> AsyncThreadline:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose(self.exit_timeout)
