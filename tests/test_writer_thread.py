"""Where the group-commit writer runs a batch: on PostgreSQL on a thread of its own, so that the
event loop serves requests while the database answers; on SQLite on the event loop itself.
Queries read on a thread on both (see api/calls.py). Answers still come back on the loop."""

from __future__ import annotations

import asyncio
import threading

from api.db import get_engine
from api.settings import get_settings
from api.writer import get_writer


async def test_batches_run_off_the_loop_on_postgresql_only(database_url):
    writer = get_writer(get_engine(), get_settings().max_batch)
    loop_thread = threading.current_thread().name
    seen: list[str] = []

    def run(conn):
        seen.append(threading.current_thread().name)
        return conn.exec_driver_sql("SELECT 1").scalar_one(), []

    results = await asyncio.gather(*[writer.submit(run) for _ in range(5)])

    assert results == [1] * 5
    if get_engine().dialect.name == "sqlite":
        assert seen == [loop_thread] * 5
    else:
        assert len(seen) == 5 and all(name.startswith("threadline-writer") for name in seen)


async def test_queries_and_long_polls_answer_on_both_databases(api, thread_id):
    request_id = await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "plan"}
    )
    waiting = asyncio.ensure_future(
        api.query("approvalRequests:get", {"approvalRequestId": request_id, "waitMs": 10_000})
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()  # the long-poll waits without holding the loop
    assert (await api.query("threads:get", {"threadId": thread_id}))["_id"] == thread_id
    await api.mutation("approvalRequests:cancel", {"approvalRequestId": request_id})
    assert (await asyncio.wait_for(waiting, 10))["status"] == "cancelled"


async def test_the_writer_answers_on_its_own_loop_and_a_returning_loop_id_gets_a_new_one(
    database_url,
):
    """The writer keeps its loop (submit does not ask for it again); a writer left under the id
    of a loop that is gone is not reused by a new loop that got the same id."""
    from api import writer as writer_module

    loop = asyncio.get_running_loop()
    engine = get_engine()
    writer = get_writer(engine, get_settings().max_batch)
    assert writer.loop is loop
    assert (
        await writer.submit(lambda conn: (conn.exec_driver_sql("SELECT 2").scalar_one(), [])) == 2
    )

    stale = writer_module.GroupCommitWriter(engine, 8, asyncio.new_event_loop())
    stale.loop.close()
    writer_module._writers[(id(loop), id(engine))] = stale
    fresh = get_writer(engine, get_settings().max_batch)
    assert fresh is not stale and fresh.loop is loop
    assert await fresh.submit(lambda conn: (conn.exec_driver_sql("SELECT 3").scalar_one(), [])) == 3
