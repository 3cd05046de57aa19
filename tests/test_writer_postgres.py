"""The PostgreSQL writer's own paths (api/writer.py, api/functions/messages.py): a batch's
messages stored by COPY, a thread's lock and highest order read in one round trip, and what a
dropped connection in the middle of a batch answers (503, nothing kept)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from api import writer as writer_module
from api.db import get_engine
from api.errors import Unavailable
from api.functions import messages as messages_module
from api.settings import get_settings
from api.writer import GroupCommitWriter, get_writer


@pytest.fixture
def postgres(database_url: str) -> str:
    if get_engine().dialect.name != "postgresql":
        pytest.skip("the PostgreSQL writer's paths")
    return database_url


def _writer() -> GroupCommitWriter:
    return get_writer(get_engine(), get_settings().max_batch)


def _blocking_job() -> tuple[Callable, threading.Event, threading.Event]:
    """A job that holds its batch (on a writer thread) until released."""
    started, release = threading.Event(), threading.Event()

    def run(conn: sa.Connection) -> tuple[Any, list]:
        started.set()
        assert release.wait(30)
        return conn.exec_driver_sql("SELECT 1").scalar_one(), []

    return run, started, release


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_highest_order_is_read_after_the_lock_so_a_waited_for_commit_counts(
    postgres, thread_id
):
    """The lock and the read go in one pipeline; the read must still see the row that the
    writer holding the lock committed while we waited (else two messages would share an order)."""
    engine = get_engine()
    holder = engine.connect()
    holder.begin()
    owners, next_orders = messages_module.locked_threads(holder, [thread_id])
    assert next_orders == {thread_id: 0}
    holder.exec_driver_sql(
        messages_module._driver_sql(holder, messages_module._INSERT_SQL),
        ("msg_held", 1.0, thread_id, "user", "held", 0, None),
    )
    seen: dict[str, Any] = {}

    def waiter() -> None:
        with engine.connect() as conn, conn.begin():
            seen["orders"] = messages_module.locked_threads(conn, [thread_id])[1]

    thread = threading.Thread(target=waiter)
    thread.start()
    await asyncio.sleep(0.3)
    assert "orders" not in seen  # blocked on the row lock
    holder.commit()
    holder.close()
    thread.join(10)
    assert seen["orders"] == {thread_id: 1}


async def test_copy_errors_come_out_as_sqlalchemy_errors(postgres, api, thread_id):
    await api.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": "a"})
    rows = [
        (f"msg_copy{i}", 1.0, thread_id, "user", "x", i, None)
        for i in range(messages_module.COPY_FROM)
    ]
    with get_engine().connect() as conn, conn.begin():
        with pytest.raises(sa_exc.IntegrityError):  # order 0 is taken
            messages_module._copy_rows(conn, rows)


async def test_a_batch_of_messages_goes_in_by_copy_and_keeps_its_contents(
    postgres, api, thread_id, monkeypatch
):
    copied: list[int] = []
    copy_rows = messages_module._copy_rows
    monkeypatch.setattr(
        messages_module,
        "_copy_rows",
        lambda conn, rows: (copied.append(len(rows)), copy_rows(conn, rows))[1],
    )
    contents = [f"tab\there, newline\nthere, backslash \\ {i} ünïcode" for i in range(40)]
    await asyncio.gather(
        *[
            api.mutation(
                "messages:create", {"threadId": thread_id, "role": "assistant", "content": text}
            )
            for text in contents
        ]
    )
    assert copied and max(copied) >= messages_module.COPY_FROM
    messages = await api.query("messages:list", {"threadId": thread_id})
    assert [m["order"] for m in messages] == list(range(40))
    assert sorted(m["content"] for m in messages) == sorted(contents)


async def test_a_dropped_connection_mid_batch_answers_503_and_commits_nothing(
    postgres, api, thread_id
):
    writer = _writer()
    # A batch in flight on the writer's thread: the next jobs queue up and go in one batch.
    blockers = [_blocking_job()]
    held = []
    for run, started, _release in blockers:
        held.append(asyncio.ensure_future(writer.submit(run)))
        await _until(started.is_set)
    creates = [
        asyncio.ensure_future(
            api.raw(
                "/api/mutation",
                "messages:create",
                {"threadId": thread_id, "role": "assistant", "content": f"m{i}"},
            )
        )
        for i in range(10)
    ]
    await _until(lambda: len(writer._queue) == 10)
    admin = sa.create_engine(get_settings().sqlalchemy_url, poolclass=sa.pool.NullPool)

    def kill_own_connection(conn: sa.Connection) -> tuple[Any, list]:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with admin.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        conn.exec_driver_sql("SELECT 1")
        return None, []

    killed = asyncio.ensure_future(writer.submit(kill_own_connection))
    await _until(lambda: len(writer._queue) == 11)
    for _run, _started, release in blockers:
        release.set()
    try:
        responses = await asyncio.wait_for(asyncio.gather(*creates), 30)
        with pytest.raises(Unavailable):
            await asyncio.wait_for(killed, 30)
        assert await asyncio.wait_for(asyncio.gather(*held), 30) == [1]
    finally:
        admin.dispose()
    assert [r.status_code for r in responses] == [503] * 10
    assert all(r.headers.get("retry-after") == "1" for r in responses)
    assert await api.query("messages:list", {"threadId": thread_id}) == []
    # The writer goes on with a fresh connection.
    await api.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": "x"})
    assert [m["order"] for m in await api.query("messages:list", {"threadId": thread_id})] == [0]


def _backend_pid(conn: sa.Connection) -> tuple[Any, list]:
    return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one(), []


def _terminate(pid: int) -> None:
    admin = sa.create_engine(get_settings().sqlalchemy_url, poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    finally:
        admin.dispose()


async def test_the_writer_keeps_its_connection_while_batches_follow_closely(postgres):
    """No checkout (and no pre-ping round trip) per batch."""
    writer = _writer()
    first = await writer.submit(_backend_pid)
    checkouts: list[object] = []

    def count(*_args: Any) -> None:
        checkouts.append(None)

    sa.event.listen(get_engine(), "checkout", count)
    try:
        assert [await writer.submit(_backend_pid) for _ in range(3)] == [first] * 3
    finally:
        sa.event.remove(get_engine(), "checkout", count)
    assert checkouts == []


async def test_after_a_pause_the_writer_checks_out_a_pinged_connection(postgres, monkeypatch):
    """A connection the server closed while the writer was idle costs no failed batch."""
    writer = _writer()
    pid = await writer.submit(_backend_pid)
    _terminate(pid)
    monkeypatch.setattr(writer_module, "KEEP_CONNECTION_SECONDS", 0.0)
    await asyncio.sleep(0.01)
    assert await writer.submit(_backend_pid) != pid


async def test_a_kept_connection_that_died_fails_one_batch_then_the_writer_reconnects(
    postgres, api, thread_id, monkeypatch
):
    writer = _writer()
    monkeypatch.setattr(writer_module, "KEEP_CONNECTION_SECONDS", 3600.0)
    pid = await writer.submit(_backend_pid)
    _terminate(pid)
    response = await api.raw(
        "/api/mutation", "messages:create", {"threadId": thread_id, "role": "user", "content": "a"}
    )
    assert response.status_code == 503  # nothing committed: the caller retries
    await api.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": "b"})
    assert [m["content"] for m in await api.query("messages:list", {"threadId": thread_id})] == [
        "b"
    ]


def _spy(monkeypatch, name: str) -> list[int]:
    """Counts the writer's calls of `name` (a method of GroupCommitWriter), by batch size."""
    seen: list[int] = []
    method = getattr(GroupCommitWriter, name)

    def spy(self, conn, jobs, *args, **kwargs):
        seen.append(len(jobs) if isinstance(jobs, list) else 1)
        return method(self, conn, jobs, *args, **kwargs)

    monkeypatch.setattr(GroupCommitWriter, name, spy)
    return seen


def _savepoints(monkeypatch) -> list[str]:
    """The SAVEPOINT statements the writer sends (through the driver's connection)."""
    import psycopg

    sent: list[str] = []
    execute = psycopg.Connection.execute

    def spy(self, query, *args, **kwargs):
        if isinstance(query, str) and "SAVEPOINT" in query:
            sent.append(query)
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", spy)
    return sent


async def test_a_one_group_batch_runs_without_savepoints_and_fails_jobs_alone(
    postgres, api, thread_id, monkeypatch
):
    """A batch that is one messages:create group and nothing else runs without SAVEPOINT (two
    round trips fewer). A job's error still fails that job alone: an invalid thread id answers
    its error while the others commit, and a unique clash inside the group (two calls with one
    Idempotency-Key) rolls the whole transaction back, after which the jobs run one by one and
    the second of the pair replays the first's result."""
    writer = _writer()
    run, started, release = _blocking_job()
    held = asyncio.ensure_future(writer.submit(run))
    await _until(started.is_set)
    whole = _spy(monkeypatch, "_run_whole_group")
    savepoints = _savepoints(monkeypatch)
    keyed = {**api.headers, "Idempotency-Key": "same-key"}
    calls = [
        ("ok", thread_id, None),
        ("missing", "thr_doesnotexist0000000000", None),
        ("keyed", thread_id, keyed),
        ("keyed again", thread_id, keyed),
    ]
    posts = [
        asyncio.ensure_future(
            api.raw(
                "/api/mutation",
                "messages:create",
                {"threadId": target, "role": "assistant", "content": content},
                headers,
            )
        )
        for content, target, headers in calls
    ]
    await _until(lambda: len(writer._queue) == len(calls))
    release.set()
    responses = await asyncio.wait_for(asyncio.gather(*posts), 30)
    assert await held == 1
    bodies = [r.json() for r in responses]
    assert [b["status"] for b in bodies] == ["success", "error", "success", "success"]
    assert "not a valid thread id" in bodies[1]["errorMessage"]
    assert bodies[2]["value"] == bodies[3]["value"]  # replayed, not a second message
    assert whole == [len(calls)]  # tried as one group, without savepoints
    # Then one by one, each in its savepoint (the group's clash rolled everything back).
    assert savepoints.count("SAVEPOINT mutation") == len(calls)
    assert "SAVEPOINT mutation_group" not in savepoints
    messages = await api.query("messages:list", {"threadId": thread_id})
    assert [(m["content"], m["order"]) for m in messages] == [("ok", 0), ("keyed", 1)]


async def test_a_one_group_batch_with_a_failing_job_commits_the_rest_without_savepoints(
    postgres, api, thread_id, monkeypatch
):
    """A job's FunctionError (a missing thread) is the group's answer for it: no rollback."""
    writer = _writer()
    run, started, release = _blocking_job()
    held = asyncio.ensure_future(writer.submit(run))
    await _until(started.is_set)
    savepoints = _savepoints(monkeypatch)
    from models.ids import new_id

    targets = [thread_id, new_id("threads"), thread_id]  # the second: no such thread
    posts = [
        asyncio.ensure_future(
            api.raw(
                "/api/mutation",
                "messages:create",
                {"threadId": target, "role": "assistant", "content": f"m{i}"},
            )
        )
        for i, target in enumerate(targets)
    ]
    await _until(lambda: len(writer._queue) == len(targets))
    release.set()
    bodies = [r.json() for r in await asyncio.wait_for(asyncio.gather(*posts), 30)]
    assert await held == 1
    assert [b["status"] for b in bodies] == ["success", "error", "success"]
    assert "not found" in bodies[1]["errorMessage"]
    assert savepoints == []
    messages = await api.query("messages:list", {"threadId": thread_id})
    assert [(m["content"], m["order"]) for m in messages] == [("m0", 0), ("m2", 1)]


async def test_a_batch_of_one_job_runs_without_a_savepoint_and_a_failure_rolls_it_back(
    postgres, api, monkeypatch
):
    """Alone in its batch, a job needs no savepoint; when it fails (after writing), the
    transaction is rolled back instead of committed, and the writer goes on."""
    from api.errors import FunctionError

    writer = _writer()
    await writer.submit(_backend_pid)  # the writer's connection is open and idle
    savepoints = _savepoints(monkeypatch)

    from models import IdempotencyRecord

    records = IdempotencyRecord.__table__
    row = {"caller": "test", "key": "rolled-back", "path": "x", "result": None}

    def write_then_fail(conn: sa.Connection) -> tuple[Any, list]:
        conn.execute(sa.insert(records), {**row, "creation_time": 0})
        raise FunctionError("no")

    with pytest.raises(FunctionError, match="no"):
        await writer.submit(write_then_fail)
    assert await writer.submit(_backend_pid) is not None
    with get_engine().connect() as conn:
        left = conn.execute(
            sa.select(sa.func.count()).where(records.c.key == "rolled-back")
        ).scalar_one()
    assert left == 0
    assert savepoints == []
