"""The webhook sender: posts the outbox (`webhook_deliveries`) after commit, at least once.

    async with webhook_sender.running():   # the server's lifespan (api/http.py, app/app.py)
        ...

- **After commit, never in the way.** Mutations only write outbox rows (api/notifications.py);
  this task, on the event loop, posts them with `httpx.AsyncClient` (timeouts on every attempt)
  and does its database work through the group-commit writer and the query threads, so neither
  a slow endpoint nor a send delays a mutation or stalls the loop.
- **At least once, same id.** A row's id is its `webhook-id` on every attempt. A row is leased
  before it is posted (its next try moved past the attempt's time limit); a crash mid-send leaves
  it pending, and it is posted again, with the same id, when the lease runs out. Restarting
  loses nothing: the outbox is in the database.
- **Backoff.** After a failed attempt the next waits WEBHOOKS_RETRY_SECONDS, then twice as long
  each time (at most an hour), until the delivery is WEBHOOKS_GIVE_UP_SECONDS old (24 h): then it
  is marked `failed`. 2xx is delivered; anything else (redirects included) is a failure.
- **One sender at a time.** On PostgreSQL the sender of the worker holding a session advisory
  lock sends; the others wait, and one takes over when that worker's connection goes away. Rows
  are also claimed with FOR UPDATE SKIP LOCKED and a conditional lease, so even two senders would
  not post a row twice. On SQLite (one process) the sender just runs.
- **Wake-ups.** The writer publishes `webhooks:queued` after a commit that queued rows (through
  Redis to the other workers), which wakes the lock holder at once; a poll every
  WEBHOOKS_POLL_SECONDS picks up retries that fall due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import sqlalchemy as sa

from api import __version__
from api.calls import off_loop
from api.db import get_engine
from api.events import bus
from api.settings import get_settings
from api.vocabulary import DELIVERED, FAILED, PENDING, WEBHOOKS_QUEUED
from api.webhooks import AddressRefused, checked_address, signed_headers
from api.writer import get_writer
from models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

deliveries = WebhookDelivery.__table__
endpoints = WebhookEndpoint.__table__

# The advisory lock's key on PostgreSQL (any constant: "twhk" in ASCII).
ADVISORY_LOCK_KEY = 0x7477_686B
BATCH = 50  # rows claimed at once
CONCURRENCY = 8  # posts in flight at once
MAX_BACKOFF_SECONDS = 3600.0
MAX_ERROR = 500
PRUNE_EVERY_SECONDS = 3600


def backoff_seconds(attempts: int) -> float:
    """How long to wait after the `attempts`-th failed attempt."""
    first = get_settings().webhooks_retry_seconds
    return min(first * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


def lease_ms() -> float:
    """How long a claimed row is kept from other senders: an attempt's limit, with margin."""
    return (get_settings().webhooks_timeout_seconds * 3 + 5) * 1000.0


@dataclass
class Claimed:
    id: str
    endpoint_id: str
    url: str
    format: str
    secret: str
    body: str
    attempts: int
    creation_time: float


@dataclass
class Outcome:
    status_code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


def _claim(conn: sa.Connection, now: float) -> list[Claimed]:
    """Due pending rows, leased to this sender (inside the writer's transaction)."""
    due = (
        sa.select(deliveries.c.id)
        .where(deliveries.c.status == PENDING, deliveries.c.next_attempt_time <= now)
        .order_by(deliveries.c.next_attempt_time)
        .limit(BATCH)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    # Conditional: a row another sender leased in the meantime is not taken again.
    leased = conn.execute(
        sa.update(deliveries)
        .where(
            deliveries.c.id.in_(ids),
            deliveries.c.status == PENDING,
            deliveries.c.next_attempt_time <= now,
        )
        .values(next_attempt_time=now + lease_ms())
        .returning(deliveries.c.id)
    )
    leased_ids = list(leased.scalars())
    if not leased_ids:
        return []
    rows = conn.execute(
        sa.select(
            deliveries.c.id,
            deliveries.c.endpoint_id,
            deliveries.c.body,
            deliveries.c.attempts,
            deliveries.c.creation_time,
            endpoints.c.url,
            endpoints.c.format,
            endpoints.c.secret,
        )
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(deliveries.c.id.in_(leased_ids))
    ).all()
    return [
        Claimed(
            id=row.id,
            endpoint_id=row.endpoint_id,
            url=row.url,
            format=row.format,
            secret=row.secret,
            body=row.body,
            attempts=row.attempts,
            creation_time=row.creation_time,
        )
        for row in rows
    ]


def _record(conn: sa.Connection, results: list[tuple[Claimed, Outcome]], now: float) -> None:
    give_up_ms = get_settings().webhooks_give_up_seconds * 1000.0
    for row, outcome in results:
        attempts = row.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_attempt_time": now,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
        }
        if outcome.delivered:
            values.update(status=DELIVERED, delivered_time=now, next_attempt_time=None)
        else:
            next_try = now + backoff_seconds(attempts) * 1000.0
            if next_try > row.creation_time + give_up_ms:
                values.update(status=FAILED, next_attempt_time=None)
            else:
                values.update(next_attempt_time=next_try)
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id == row.id, deliveries.c.status == PENDING)
            .values(values)
        )


def _next_due(now: float) -> float | None:
    """Seconds until the earliest pending row falls due (0 if one is due), None if none."""
    with get_engine().connect() as conn:
        earliest = conn.execute(
            sa.select(sa.func.min(deliveries.c.next_attempt_time)).where(
                deliveries.c.status == PENDING
            )
        ).scalar()
    if earliest is None:
        return None
    return max((earliest - now) / 1000.0, 0.0)


def prune_log(conn: sa.Connection, cutoff: float) -> int:
    """Deletes delivered and failed deliveries created before `cutoff` (ms); answers how many."""
    deleted = conn.execute(
        sa.delete(deliveries).where(
            deliveries.c.status.in_((DELIVERED, FAILED)), deliveries.c.creation_time < cutoff
        )
    )
    return deleted.rowcount


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


async def attempt(client: httpx.AsyncClient, row: Claimed) -> Outcome:
    """One POST of one delivery; never raises."""
    headers = {
        "content-type": "application/json",
        "user-agent": f"Threadline-Webhooks/{__version__}",
    }
    if row.format == "standard":
        headers.update(signed_headers(row.secret, row.id, int(time.time()), row.body))
    url = row.url
    extensions: dict[str, Any] = {}
    try:
        address = await checked_address(url)
    except AddressRefused as exc:
        return Outcome(None, _short(f"refused: {exc}"))
    if address is not None:
        # Connect to the address that was checked; Host and TLS (SNI, certificate) still name
        # the URL's host.
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc_host = f"[{address}]" if ":" in address else address
        netloc = netloc_host + (f":{parts.port}" if parts.port else "")
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        headers["host"] = parts.netloc.rsplit("@", 1)[-1]
        if parts.scheme.lower() == "https":
            extensions["sni_hostname"] = host
    try:
        response = await client.post(
            url, content=row.body.encode(), headers=headers, extensions=extensions
        )
    except httpx.HTTPError as exc:
        return Outcome(None, _short(f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc)))
    if 200 <= response.status_code < 300:
        return Outcome(response.status_code, None)
    try:
        snippet = response.text[:200]
    except Exception:  # undecodable answer
        snippet = ""
    reason = f"HTTP {response.status_code}" + (f": {snippet}" if snippet.strip() else "")
    return Outcome(response.status_code, _short(reason))


class Sender:
    """The sending task of one worker (see the module docstring)."""

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._lock_conn: sa.Connection | None = None
        self._client: httpx.AsyncClient | None = None
        self.sent = 0  # attempts made by this sender (tests, health)
        self.waiting = False  # idle until woken or the poll (tests)
        self._next_prune = 0.0

    def wake(self) -> None:
        self._wake.set()

    def _on_queued(self, _topic: str, _payload: dict[str, Any]) -> None:
        self._wake.set()

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            timeout = get_settings().webhooks_timeout_seconds
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(timeout),
                follow_redirects=False,
                trust_env=False,  # never through an environment proxy: the URL is what is called
            )
        return self._client

    async def deliver_due(self, now: float | None = None) -> int:
        """Claim, post and record every due row (repeatedly, until none is due); answers how
        many attempts were made. `now` (ms) lets tests step through the retry schedule."""
        writer = get_writer(get_engine(), get_settings().max_batch)
        made = 0
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def post(row: Claimed) -> tuple[Claimed, Outcome]:
            async with semaphore:
                return row, await attempt(self.client(), row)

        while True:
            moment = time.time() * 1000.0 if now is None else now
            claimed = await writer.submit(lambda conn, m=moment: (_claim(conn, m), []))
            if not claimed:
                return made
            results = await asyncio.gather(*(post(row) for row in claimed))
            finished = time.time() * 1000.0 if now is None else now
            await writer.submit(lambda conn, r=results, f=finished: (_record(conn, r, f), []))
            made += len(results)
            self.sent += len(results)
            if now is not None:
                return made

    async def _prune(self) -> None:
        """At most hourly: forget settled deliveries older than WEBHOOKS_LOG_RETENTION_DAYS."""
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY_SECONDS
        cutoff = time.time() * 1000.0 - get_settings().webhooks_log_retention_days * 86400_000
        writer = get_writer(get_engine(), get_settings().max_batch)
        await writer.submit(lambda conn: (prune_log(conn, cutoff), []))

    async def _is_leader(self) -> bool:
        engine = get_engine()
        if engine.dialect.name != "postgresql":
            return True
        if self._lock_conn is not None:
            try:
                await off_loop(self._lock_conn.exec_driver_sql, "SELECT 1")
                return True
            except Exception:
                log.warning("webhook sender lost its lock connection; taking the lock again")
                await self._release()

        def take() -> sa.Connection | None:
            conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                got = conn.execute(
                    sa.text("SELECT pg_try_advisory_lock(:key)"),
                    {"key": ADVISORY_LOCK_KEY},
                ).scalar()
            except Exception:
                conn.close()
                raise
            if got:
                return conn
            conn.close()
            return None

        self._lock_conn = await off_loop(take)
        return self._lock_conn is not None

    async def _release(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await off_loop(conn.close)  # closing the session releases the advisory lock

    async def run(self) -> None:
        settings = get_settings()
        if settings.redis_url:
            await bus.connect_redis(settings.redis_url)
        bus.add_listener(WEBHOOKS_QUEUED, self._on_queued)
        try:
            while True:
                self._wake.clear()
                wait = settings.webhooks_poll_seconds
                try:
                    if await self._is_leader():
                        # A read first: an empty outbox costs no write transaction.
                        until = await off_loop(_next_due, time.time() * 1000.0)
                        if until == 0:
                            await self.deliver_due()
                            until = await off_loop(_next_due, time.time() * 1000.0)
                        if until is not None:
                            wait = min(wait, until)
                        await self._prune()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook sender failed; trying again shortly")
                # At least a moment, so that a row that cannot be claimed never spins the loop.
                self.waiting = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(wait, 0.05))
                self.waiting = False
        finally:
            bus.remove_listener(WEBHOOKS_QUEUED, self._on_queued)
            await self._release()
            if self._client is not None:
                await self._client.aclose()
                self._client = None


@contextlib.asynccontextmanager
async def running():
    """Runs a sender for as long as the block (a server's lifespan)."""
    sender = Sender()
    task = asyncio.get_running_loop().create_task(sender.run(), name="webhook-sender")
    try:
        yield sender
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
