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
