"""Background sending for `post()`: a bounded queue drained by a few worker threads.

Writes are grouped in lanes by ordering key (the thread id). A lane has at most one write in
flight, and its next write starts only once the previous one is sent or finally failed, so the
server sees each thread's writes in the order they were posted; different lanes go concurrently.

Threads rather than an asyncio loop: the sender must still work in an `atexit` handler, where
the interpreter no longer lets asyncio hand DNS lookups to its executor, and it must not depend
on the caller's event loop still running.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from threadline_client._wire import RetryPolicy, SyncTransport
from threadline_client.errors import ClientClosed, QueueFull, ThreadlineError

log = logging.getLogger("threadline_client")

# How long close() waits for writes already in flight once the flush is over.
CLOSE_GRACE_SECONDS = 1.0

OnFailure = Callable[[str, dict[str, Any], ThreadlineError], None]


@dataclass(frozen=True)
class Counters:
    """Background writes since the client was made. `retried` counts retry attempts (a write
    retried three times adds three); `pending` is queued or in flight right now."""

    queued: int
    sent: int
    retried: int
    failed: int
    pending: int


@dataclass
class Write:
    path: str
    body: bytes
    idempotency_key: str
    lane: Hashable

    @property
    def args(self) -> dict[str, Any]:
        """The arguments as they were when posted (decoded from the body only when needed)."""
        return json.loads(self.body)["args"]


class Sender:
    def __init__(
        self,
        transport: SyncTransport,
        *,
        policy: RetryPolicy,
        max_queue: int,
        concurrency: int,
        on_failure: OnFailure | None,
        exit_timeout: float,
    ) -> None:
        if max_queue < 1 or concurrency < 1:
            raise ValueError("max_queue and concurrency must be at least 1")
        self.transport = transport
        self.policy = policy
        self.max_queue = max_queue
        self.concurrency = concurrency
        self.on_failure = on_failure
        self.exit_timeout = exit_timeout
        self._cond = threading.Condition()
        # Lane key -> writes not yet started. A key is present while its lane has writes queued
        # or one in flight; it is in _ready when its head may start.
        self._lanes: dict[Hashable, deque[Write]] = {}
        self._ready: deque[Hashable] = deque()
        self._pending = 0
        self._queued = self._sent = self._retried = self._failed = 0
        self._workers: list[threading.Thread] = []
        self._closed = False
        # Set on close: backoff waits end at once and their writes fail with ClientClosed.
        self._stop = threading.Event()

    # -- the caller's side -------------------------------------------------------------------

    def put(self, write: Write, timeout: float | None) -> None:
        """Queue a write; when the queue is full, wait up to `timeout` seconds for room, then
        raise QueueFull (timeout 0: raise at once; None: wait as long as it takes)."""
        with self._cond:
            if not self._closed and self._pending >= self.max_queue:
                if timeout is None or timeout > 0:
                    self._cond.wait_for(
                        lambda: self._closed or self._pending < self.max_queue, timeout
                    )
            if self._closed:
                raise ClientClosed(f"{write.path}: the client is closed", path=write.path)
            if self._pending >= self.max_queue:
                raise QueueFull(
                    f"{write.path}: not queued, {self._pending} writes are waiting to be sent "
                    f"(max_queue={self.max_queue}); is the server reachable?",
                    path=write.path,
                )
            self._pending += 1
            self._queued += 1
            lane = self._lanes.get(write.lane)
            if lane is None:
                self._lanes[write.lane] = deque([write])
                self._ready.append(write.lane)
            else:
                lane.append(write)
            if not self._workers:
                self._start_workers()
            self._cond.notify_all()

    def flush(self, timeout: float | None) -> bool:
        """Wait until nothing is queued or in flight; False if `timeout` passed first."""
        if threading.current_thread() in self._workers:
            raise RuntimeError(
                "flush() cannot be called from on_failure (it would wait for itself)"
            )
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    @property
    def closed(self) -> bool:
        return self._closed

    def is_idle(self) -> bool:
        with self._cond:
            return self._pending == 0

    @property
    def counters(self) -> Counters:
        with self._cond:
            return Counters(self._queued, self._sent, self._retried, self._failed, self._pending)

    def close(self, timeout: float | None) -> bool:
        """Flush for up to `timeout` seconds, then stop: writes not yet started are reported as
        failed with ClientClosed, and a write waiting to retry gives up the same way. True if
        everything was sent (or finally failed) in time."""
        with self._cond:
            if self._closed:
                return self._pending == 0
        flushed = self.flush(timeout)
        with self._cond:
            self._closed = True
            abandoned = [write for lane in self._lanes.values() for write in lane]
            for lane in self._lanes.values():
                lane.clear()
            for key in self._ready:  # idle lanes; a lane in flight goes when its write ends
                del self._lanes[key]
            self._ready.clear()
            self._cond.notify_all()
        self._stop.set()
        if abandoned:
            log.warning(
                "threadline client closed with %d writes not sent; reporting them as failed",
                len(abandoned),
            )
        for write in abandoned:
            error = ClientClosed(
                f"{write.path}: not sent, the client closed first", path=write.path
            )
            self._finish(write, error, lane_done=False)
        # A write in flight gets a moment to finish; its request is bounded by the timeout anyway.
        deadline = time.monotonic() + CLOSE_GRACE_SECONDS
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join(timeout=max(0.0, deadline - time.monotonic()))
        if not any(worker.is_alive() for worker in self._workers):
            self.transport.close()
        _live_senders.discard(self)
        return flushed

    # -- the workers -------------------------------------------------------------------------

    def _start_workers(self) -> None:
        _live_senders.add(self)
        for number in range(self.concurrency):
            worker = threading.Thread(
                target=self._work, name=f"threadline-sender-{number}", daemon=True
            )
            self._workers.append(worker)
            worker.start()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._ready or self._closed)
                if not self._ready:
                    return
                key = self._ready.popleft()
                write = self._lanes[key].popleft()
            error: ThreadlineError | None = None
            try:
                self.transport.call(
                    "mutation",
                    write.path,
                    write.body,
                    policy=self.policy,
                    idempotency_key=write.idempotency_key,
                    on_retry=self._count_retry,
                    stop=self._stop,
                )
            except ThreadlineError as exc:
                error = exc
            except Exception as exc:  # a bug; the write must still be accounted for
                log.exception("threadline client: unexpected error sending %s", write.path)
                error = ThreadlineError(f"{write.path}: {type(exc).__name__}: {exc}")
            self._finish(write, error, lane_done=True)

    def _count_retry(self, _path: str, _error: ThreadlineError, _delay: float) -> None:
        with self._cond:
            self._retried += 1

    def _finish(self, write: Write, error: ThreadlineError | None, *, lane_done: bool) -> None:
        # Report before the bookkeeping, so that flush() returns only after on_failure ran and
        # the lane's next write starts only after this one's failure was handled.
        if error is not None:
            self._report(write, error)
        with self._cond:
            self._pending -= 1
            if error is None:
                self._sent += 1
            else:
                self._failed += 1
            if lane_done:
                lane = self._lanes.get(write.lane)
                if lane:
                    self._ready.append(write.lane)
                elif lane is not None:
                    del self._lanes[write.lane]
            self._cond.notify_all()

    def _report(self, write: Write, error: ThreadlineError) -> None:
        log.warning("threadline write %s failed for good: %s", write.path, error)
        if self.on_failure is None:
            return
        try:
            self.on_failure(write.path, write.args, error)
        except Exception:
            log.exception("threadline client: the on_failure callback raised")


# Every sender with workers, flushed when the interpreter exits (each up to its exit_timeout).
_live_senders: set[Sender] = set()


@atexit.register
def _flush_at_exit() -> None:
    for sender in list(_live_senders):
        try:
            if not sender.close(sender.exit_timeout):
                log.warning(
                    "threadline client: gave up flushing at exit after %.1f s",
                    sender.exit_timeout,
                )
        except Exception:
            log.exception("threadline client: flushing at exit failed")
