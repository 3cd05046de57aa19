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
