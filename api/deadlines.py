"""The deadline watcher: pending approval requests whose `expiresTime` has passed become `expired`.

Every worker runs one (started with the server: the API's lifespan, or the console's lifespan
tasks). It sleeps until the soonest deadline of a pending request, then hands the expiry to the
group-commit writer (`approval_requests.expire_due`: one conditional UPDATE, so with several
workers each request is expired once, by whichever worker's UPDATE gets it; only that worker
publishes the events and queues the `approval.expired` notification). A new request with a
sooner deadline wakes it (`approvals:changed` carries `expiresTime`; other workers hear it through
Redis). On start, overdue requests (deadlines that passed while the server was down) expire at
once. Without any event it still looks again every RECHECK_SECONDS, so a request created through
a worker that could not publish is expired at most that late.

The reads run in the query threads and the write goes through the writer, so the event loop is
never held by the watcher.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from api.events import bus
from api.vocabulary import APPROVALS_CHANGED

log = logging.getLogger(__name__)

RECHECK_SECONDS = 30.0
# After a failure (database unreachable), try again after this long.
RETRY_SECONDS = 2.0


class DeadlineWatcher:
    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._next: float | None = None  # the deadline (ms) the watcher sleeps towards
        self.expired = 0  # requests this watcher expired (tests and the health figures)

    def _on_change(self, _topic: str, payload: dict[str, Any]) -> None:
        expires = payload.get("expiresTime")
        if isinstance(expires, int | float) and (self._next is None or expires < self._next):
            self._wake.set()

    async def run(self) -> None:
        from api.calls import _ensure_event_relay

        await _ensure_event_relay()
        bus.add_listener(APPROVALS_CHANGED, self._on_change)
        try:
            while True:
                try:
                    delay = await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("expiring approval requests failed; trying again")
                    delay = RETRY_SECONDS
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except TimeoutError:
                    pass
        finally:
            bus.remove_listener(APPROVALS_CHANGED, self._on_change)

    async def step(self) -> float:
        """Expires what is due now; answers how long to sleep until the next deadline."""
        from api.calls import off_loop
        from api.db import get_engine
        from api.functions.approval_requests import EXPIRE_BATCH, expire_due, next_deadline
        from api.registry import next_creation_time
        from api.settings import get_settings
        from api.writer import get_writer

        engine = get_engine()
        writer = get_writer(engine, get_settings().max_batch)
        self._wake.clear()

        def soonest() -> float | None:
            with engine.connect() as conn:
                return next_deadline(conn)

        # A read first: with nothing due (the usual case) the watcher costs no write transaction.
        self._next = await off_loop(soonest)
        while self._next is not None and self._next <= time.time() * 1000.0:
            now = next_creation_time()
            expired = await writer.submit(lambda conn, now=now: expire_due(conn, now))
            self.expired += len(expired)
            if len(expired) < EXPIRE_BATCH:
                self._next = await off_loop(soonest)
                if not expired:  # what was due was decided meanwhile, or the clock is behind
                    break
        if self._next is None:
            return RECHECK_SECONDS
        if self._next <= time.time() * 1000.0:  # still due yet nothing expired: not a hot loop
            return RETRY_SECONDS
        # A few ms past the deadline, so that the UPDATE's `expires_time <= now` holds.
        wait = (self._next - time.time() * 1000.0) / 1000.0 + 0.005
        return min(max(wait, 0.0), RECHECK_SECONDS)


_watchers: dict[int, asyncio.Task] = {}


def start() -> asyncio.Task:
    """Starts this event loop's watcher once (the API and the console may both ask)."""
    loop = asyncio.get_running_loop()
    task = _watchers.get(id(loop))
    if task is None or task.done():
        task = _watchers[id(loop)] = loop.create_task(DeadlineWatcher().run())
    return task


async def stop() -> None:
    task = _watchers.pop(id(asyncio.get_running_loop()), None)
    if task is not None:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass


async def run_with_server() -> None:
    """A Reflex lifespan task: the watcher for as long as the server runs."""
    task = start()
    try:
        await asyncio.shield(task)
    finally:
        await stop()
