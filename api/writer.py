"""Group commit: concurrent mutations share transactions, each one still atomic on its own.

Every mutation is queued here. One writer task per event loop takes everything queued, opens one
transaction, runs each mutation in its own SAVEPOINT (a failing one is rolled back alone, the others
stay), commits once, and only then answers every caller. A 200 therefore always means committed.

On SQLite the writer runs the batch synchronously on the event-loop thread: while it writes, new
requests pile up in the queue and make the next batch larger, which is what lets one SQLite writer
keep up with the HTTP layer (a writer thread was tried in the prototype; it starved under load:
SQLite's work is CPU under the GIL). On PostgreSQL a batch is mostly waiting for the server's
answers, so it runs on a thread of its own (one batch at a time, in order), and the event loop
serves requests meanwhile; only the answering (futures, events) happens back on the loop.
A PostgreSQL batch of one job, or of one group (say, 14 messages:create) and nothing else, runs
without savepoints: nothing else shares its transaction, so a failure rolls the whole of it back
(a group's jobs are then run again one by one, each in its savepoint). That saves SAVEPOINT and
RELEASE, two of a streamed batch's seven round trips (bench/writer_trips.py).
(Two batches in flight, each on a connection of its own, were measured and dropped: the waiting
callers split into two smaller batches, each with the same fixed cost, and the server spent
10-20 µs more CPU per message on a 2-core machine, with no gain in wall time.)

SQLite's writer keeps ONE connection for itself, and with it a memo (`MEMO` in the connection's
`info` while a batch runs): what functions may remember of the database between batches (for
messages:create, each thread's owner and next order), so that a streamed message needs no read.
The memo is only as good as the knowledge that nothing else wrote: it is emptied when
`PRAGMA data_version` shows that another connection (another engine, the CLI, any process)
committed since the last batch, when a batch holds any job not marked `memo_safe` (anything but
plain messages:create), on every rollback (a savepoint or the whole batch) and when the
connection is replaced. PostgreSQL has several writers (workers) and never gets a memo.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from api.errors import FunctionError, Unavailable
from api.events import bus
from api.notifications import take_queued
from api.vocabulary import SYNC_TOUCHED, WEBHOOKS_QUEUED

log = logging.getLogger(__name__)

# PostgreSQL SQLSTATEs that mean "run it again": serialization failure, deadlock.
RETRYABLE_PGCODES = {"40001", "40P01"}
MAX_ATTEMPTS = 5
# Where a SQLite batch's connection carries the writer's memo (see the module doc).
MEMO = "threadline.memo"
MAX_MEMO_ENTRIES = 100_000  # per kind of entry: emptied when it outgrows this
# PostgreSQL: the writer keeps its connection between batches at most this long apart.
KEEP_CONNECTION_SECONDS = 1.0


class Retry(Exception):
    """Raised inside a job to have it run again in the next batch (e.g. a lost race)."""


Events = list[tuple[str, dict[str, Any]]]


@dataclass
class Job:
    # Runs inside its savepoint; returns (result, events to publish after commit).
    run: Callable[[Connection], tuple[Any, Events]]
    future: asyncio.Future | None
    # Jobs of one group (e.g. "messages:create") in a batch may be run together by `run_group`,
    # which gets them all and answers, for each, (result, events) or the FunctionError it raised.
    group: str | None = None
    run_group: Callable[[Connection, list[Job]], list[Any]] | None = None
    item: Any = None  # what run_group needs to know of this job
    # What the job writes, for sync subscriptions: (module, threadId or None); a None threadId
    # is filled from the job's own events when they name one.
    touches: tuple[str, str | None] | None = None
    # Whether the job leaves the memo true (it writes nothing a memo entry describes).
    memo_safe: bool = False
    attempts: int = 0
    outcome: tuple[str, Any] | None = None
    events: Events = field(default_factory=list)


class GroupCommitWriter:
    def __init__(
        self, engine: Engine, max_batch: int, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        self.engine = engine
        # The event loop this writer serves (get_writer makes one per loop); known here so that
        # submit need not ask for it again: asyncio.get_running_loop makes a getpid system call
        # each time on Python 3.11, half a microsecond per call on this project's machines.
        self.loop = loop
        self.max_batch = max_batch
        self._queue: deque[Job] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        # PostgreSQL: batches run on this one thread, off the event loop (see the module doc).
        self._thread = (
            None
            if engine.dialect.name == "sqlite"
            else ThreadPoolExecutor(max_workers=1, thread_name_prefix="threadline-writer")
        )
        # The writer's own connection (PostgreSQL: while batches follow closely, see
        # _apply_postgresql); SQLite: also its memo and the data_version it last saw.
        self._connection: Connection | None = None
        self._last_batch = 0.0
        self.memo: dict[str, Any] = {}
        self._data_version: int | None = None
        # Figures for the benchmarks and the health page.
        self.batches = 0
        self.jobs = 0

    async def submit(self, run: Callable[[Connection], Any], **group: Any) -> Any:
        """Queue a write and wait until it is committed; returns its result or raises its error.
        `group`, `run_group` and `item` (optional) let like jobs of a batch run together."""
        loop = self.loop or asyncio.get_running_loop()
        future = loop.create_future()
        self._enqueue(Job(run, future, **group), loop)
        return await future

    def close(self) -> None:
        """Give back the writer's own connection (tests switch databases)."""
        connection, self._connection = self._connection, None
        self._forget()
        if connection is not None:
            try:
                connection.close()
            except Exception:
                log.exception("closing the writer's connection failed")

    def submit_nowait(self, run: Callable[[Connection], Any]) -> None:
        """Queue a bookkeeping write nobody waits for (e.g. an API key's last-used time)."""
        self._enqueue(Job(run, None))

    def _enqueue(self, job: Job, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._queue.append(job)
        self._wake.set()
        if self._task is None or self._task.done():
            loop = loop or self.loop or asyncio.get_running_loop()
            self._task = loop.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                # Let the HTTP handlers that are ready run first, for as long as that adds to the
                # queue: their mutations then share this commit instead of waiting for the next.
                for _ in range(8):
                    queued = len(self._queue)
                    await asyncio.sleep(0)
                    if len(self._queue) == queued or len(self._queue) >= self.max_batch:
                        break
                batch = [
                    self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))
                ]
                if self._thread is None:
                    self._write(batch)
                else:
                    loop = asyncio.get_running_loop()
                    await loop.run_in_executor(self._thread, self._apply, batch)
                    self._settle(batch)
                log.debug("committed a batch of %d mutations", len(batch))

    def _write(self, batch: list[Job]) -> None:
        self._apply(batch)
        self._settle(batch)

    def _apply(self, batch: list[Job]) -> None:
        """Run and commit the batch; sets each job's outcome. Touches no event-loop object."""
        if self._thread is None:
            return self._apply_sqlite(batch)
        self._apply_postgresql(batch)

    def _apply_postgresql(self, batch: list[Job]) -> None:
        """_apply on the writer's connection, kept from batch to batch while batches follow each
        other closely: a checkout per batch cost the pool's pre-ping (a round trip) and the
        pool's bookkeeping, a fixed cost of every batch. After a pause it goes back to the pool
        and the next batch checks one out (pinged), so a connection the server closed while
        idle costs nothing; one that fails in a batch is given up (that batch answers 503)."""
        conn = self._connection
        now = time.monotonic()
        if conn is not None and now - self._last_batch > KEEP_CONNECTION_SECONDS:
            self.close()
            conn = None
        if conn is None:
            conn = self._connection = self.engine.connect().execution_options(writer=True)
        try:
            if len(batch) == 1 or _one_group(batch):
                try:
                    with conn.begin():
                        if len(batch) == 1:
                            self._run_one(conn, batch[0], savepoint=False)
                        else:
                            self._run_whole_group(conn, batch)
                except _RolledBack as rolled:
                    if rolled.again:  # the group failed: each job again, on its own
                        with conn.begin():
                            for job in batch:
                                self._run_one(conn, job)
            else:
                with conn.begin():
                    self._run_batch(conn, batch)
        except Exception as exc:  # the commit (or BEGIN) failed: nothing in this batch was applied
            self.close()
            self._failed(batch, exc)
        self._last_batch = time.monotonic()

    def _run_whole_group(self, conn: Connection, jobs: list[Job]) -> None:
        """PostgreSQL, a batch that is one group and nothing else: the group needs no SAVEPOINT
        of its own (SAVEPOINT and RELEASE were two of the batch's round trips, and without them
        BEGIN goes out in the group's first pipeline), since the transaction holds nothing else.
        A job's FunctionError still fails that job alone (the group answers it); anything the
        group raises rolls the whole transaction back (_RolledBack) and the caller runs the
        jobs one by one in a fresh one, as _run_group does after its savepoint's rollback."""
        try:
            outcomes = jobs[0].run_group(conn, jobs)
        except Exception as exc:
            take_queued(conn)  # rolled back with the transaction: nothing was queued
            self._forget(conn)
            raise _RolledBack(again=True) from exc
        self._group_outcomes(conn, jobs, outcomes)

    def _apply_sqlite(self, batch: list[Job]) -> None:
        """_apply on the writer's own connection, with the memo when it is still true."""
        conn = self._connection
        if conn is None:
            conn = self._connection = self.engine.connect().execution_options(writer=True)
            self._forget()
        try:
            with conn.begin():  # BEGIN IMMEDIATE: from here on, nobody else commits
                driver = conn.connection.driver_connection
                version = driver.execute("PRAGMA data_version").fetchone()[0]
                if version != self._data_version:  # another connection committed meanwhile
                    self._forget()
                self._data_version = version
                if all(job.memo_safe for job in batch):
                    conn.info[MEMO] = self.memo
                else:
                    self._forget()
                try:
                    self._run_batch(conn, batch)
                finally:
                    conn.info.pop(MEMO, None)
        except Exception as exc:
            self._forget()
            self._connection = None
            try:
                conn.close()  # back to the pool, which rolls back whatever is left open
            except Exception:
                log.exception("closing the writer's connection failed")
            self._failed(batch, exc)

    def _forget(self, conn: Connection | None = None) -> None:
        """Empty the memo (and, given the batch's connection, stop using it in this batch)."""
        self.memo.clear()
        if conn is not None:
            conn.info.pop(MEMO, None)

    def _run_batch(self, conn: Connection, batch: list[Job]) -> None:
        groups: dict[str, list[Job]] = {}
        for job in batch:
            if job.group is not None:
                groups.setdefault(job.group, []).append(job)
        for job in batch:
            if job.group is None or len(groups[job.group]) == 1:
                self._run_one(conn, job)
            elif job is groups[job.group][0]:  # the group runs where it starts
                self._run_group(conn, groups[job.group])

    def _failed(self, batch: list[Job], exc: Exception) -> None:
        """The commit (or BEGIN) failed: nothing in this batch was applied."""
        log.exception("group commit of %d mutations failed", len(batch))
        for job in batch:
            if job.outcome is not None and job.outcome[0] == "retry":
                continue
            job.outcome = ("error", Unavailable(f"the database did not commit: {exc}"))

    def _settle(self, batch: list[Job]) -> None:
        """On the event loop, after the commit: count, publish, answer every caller."""
        self.batches += 1
        self.jobs += len(batch)
        _publish_touched(batch)
        for job in batch:
            self._finish(job)

    def _run_one(self, conn: Connection, job: Job, savepoint: bool = True) -> None:
        """Run one job in its savepoint. Without one (PostgreSQL, a batch of this job alone: it
        saves SAVEPOINT and RELEASE, two round trips), a failed job raises _RolledBack once its
        outcome is set, and the caller rolls the transaction back instead of committing."""
        job.attempts += 1
        # The savepoint is driven on the driver's connection directly: SQLAlchemy's begin_nested()
        # bookkeeping cost as much as the mutation itself. Both SQLite and PostgreSQL accept these.
        driver = conn.connection.driver_connection
        if savepoint:
            driver.execute("SAVEPOINT mutation")
        try:
            result, events = job.run(conn)
        except FunctionError as exc:
            job.outcome = ("error", exc)
        except (Retry, sa_exc.IntegrityError, sa_exc.OperationalError) as exc:
            if _retryable(exc) and job.attempts < MAX_ATTEMPTS:
                job.outcome = ("retry", None)
            else:
                job.outcome = ("error", _as_function_error(exc))
        except Exception as exc:
            log.exception("mutation failed unexpectedly")
            job.outcome = ("error", FunctionError(f"Internal error: {type(exc).__name__}"))
        else:
            if savepoint:
                driver.execute("RELEASE SAVEPOINT mutation")
            job.outcome = ("ok", result)
            job.events = events
            if take_queued(conn):  # it queued webhook deliveries: wake the sender after commit
                job.events = [*events, (WEBHOOKS_QUEUED, {})]
            return
        take_queued(conn)  # rolled back with the savepoint: nothing was queued
        self._forget(conn)  # what the job remembered is rolled back too
        if not savepoint:
            raise _RolledBack(again=False)
        driver.execute("ROLLBACK TO SAVEPOINT mutation")
        driver.execute("RELEASE SAVEPOINT mutation")

    def _run_group(self, conn: Connection, jobs: list[Job]) -> None:
        """Run like jobs together (a few statements for the whole group instead of a few per
        job). A job's FunctionError fails that job alone; anything unexpected rolls the group back
        and runs its jobs one by one, each in its own savepoint as usual."""
        driver = conn.connection.driver_connection
        driver.execute("SAVEPOINT mutation_group")
        try:
            outcomes = jobs[0].run_group(conn, jobs)
        except Exception:
            self._forget(conn)
            driver.execute("ROLLBACK TO SAVEPOINT mutation_group")
            driver.execute("RELEASE SAVEPOINT mutation_group")
            for job in jobs:
                self._run_one(conn, job)
            return
        driver.execute("RELEASE SAVEPOINT mutation_group")
        self._group_outcomes(conn, jobs, outcomes)

    def _group_outcomes(self, conn: Connection, jobs: list[Job], outcomes: list[Any]) -> None:
        """Each job's outcome from what its group answered for it."""
        queued = take_queued(conn)
        for job, outcome in zip(jobs, outcomes, strict=True):
            job.attempts += 1
            if isinstance(outcome, FunctionError):
                job.outcome = ("error", outcome)
            else:
                job.outcome = ("ok", outcome[0])
                job.events = outcome[1]
                if queued:  # webhook deliveries were queued: wake the sender after commit
                    job.events = [*job.events, (WEBHOOKS_QUEUED, {})]
                    queued = False

    def _finish(self, job: Job) -> None:
        status, value = job.outcome or ("error", Unavailable("not run"))
        if status == "retry":
            job.outcome = None
            self._queue.append(job)
            self._wake.set()
            return
        if status == "ok":
            for topic, payload in job.events:
                bus.publish(topic, payload)
        if job.future is None:
            if status == "error":
                log.warning("background write failed: %s", value)
            return
        if job.future.done():  # the caller gave up (disconnected); the write stands or not
            return
        if status == "ok":
            job.future.set_result(value)
        else:
            job.future.set_exception(value)


class _RolledBack(Exception):
    """PostgreSQL, a batch run without savepoints (one job, or one group): what it ran failed,
    so its transaction is rolled back; `again`: run its jobs one by one in a fresh one."""

    def __init__(self, again: bool) -> None:
        super().__init__()
        self.again = again


def _one_group(batch: list[Job]) -> bool:
    """Whether the batch is one group of two or more jobs and nothing else."""
    if len(batch) < 2:
        return False
    group = batch[0].group
    return group is not None and all(job.group == group for job in batch)


def _publish_touched(batch: list[Job]) -> None:
    """One event for the whole committed batch: what its mutations wrote (see api/events.py)."""
    touched = set()
    for job in batch:
        if job.touches is None or job.outcome is None or job.outcome[0] != "ok":
            continue
        module, thread_id = job.touches
        if thread_id is None:
            thread_id = next((p["threadId"] for _t, p in job.events if "threadId" in p), None)
        touched.add((module, thread_id))
    if touched:
        bus.publish(SYNC_TOUCHED, {"touched": list(touched)})


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, Retry):
        return True
    if isinstance(exc, sa_exc.IntegrityError):
        # A unique key taken by a concurrent writer in another process: running again will see
        # that row (an idempotency record, a session) and take the other branch.
        return True
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in RETRYABLE_PGCODES or "database is locked" in str(exc)


def _as_function_error(exc: Exception) -> FunctionError:
    if isinstance(exc, sa_exc.IntegrityError):
        return FunctionError("Conflict: the write collides with an existing document")
    return FunctionError("The database was busy; try again")


_writers: dict[tuple[int, int], GroupCommitWriter] = {}


def get_writer(engine: Engine, max_batch: int) -> GroupCommitWriter:
    """The writer for this event loop and engine (tests run several loops and databases)."""
    loop = asyncio.get_running_loop()
    key = (id(loop), id(engine))
    writer = _writers.get(key)
    if writer is not None and writer.loop is not loop:  # a closed loop's id came back
        writer.close()
        writer = None
    if writer is None:
        writer = _writers[key] = GroupCommitWriter(engine, max_batch, loop)
    return writer


def reset_writers() -> None:
    for writer in _writers.values():
        writer.close()
    _writers.clear()
