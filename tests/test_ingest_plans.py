"""The streaming write path does not slow down as a thread grows.

Functional, no timing: posts into a thread that already holds many messages get the right orders
(continuing, gap-free, unique), and the statements of the batch path are answered from their
indexes with one seek per thread (asserted on the query plans of both databases), which is what
keeps the cost of a message independent of the thread's length.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from api.calls import call
from api.cli import CLI_CALLER
from api.db import get_engine
from api.functions import messages as messages_module

EXISTING = 20_000


def _fill(thread_id: str, count: int) -> None:
    """Store `count` messages straight into the table (fast; the write path is not the subject)."""
    table = messages_module.messages
    rows = [
        {
            "id": f"msg_fill{index:022d}",
            "creation_time": 1.0,
            "thread_id": thread_id,
            "role": "assistant",
            "content": "x",
            "order": index,
            "metadata": None,
        }
        for index in range(count)
    ]
    with get_engine().begin() as conn:
        conn.execute(sa.insert(table), rows)


async def _new_thread(title: str) -> str:
    return await call("threads:create", {"title": title}, CLI_CALLER)


async def _post(thread_id: str, content: str) -> str:
    args = {"threadId": thread_id, "role": "assistant", "content": content}
    return await call("messages:create", args, CLI_CALLER)


async def test_orders_continue_gap_free_in_a_thread_that_holds_many_messages(database_url):
    long_thread, fresh_thread = await _new_thread("long"), await _new_thread("fresh")
    _fill(long_thread, EXISTING)

    # Concurrent posts share group-commit batches, so they take the batch path together.
    posted = await asyncio.gather(
        *[_post(long_thread, f"long {i}") for i in range(60)],
        *[_post(fresh_thread, f"fresh {i}") for i in range(15)],
    )
    after = await _post(long_thread, "after")

    with get_engine().connect() as conn:
        rows = conn.execute(
            sa.text('SELECT id, thread_id, "order", content FROM messages WHERE content != :x'),
            {"x": "x"},
        ).all()
    by_id = {row.id: row for row in rows}
    long_orders = sorted(row.order for row in rows if row.thread_id == long_thread)
    fresh_orders = sorted(row.order for row in rows if row.thread_id == fresh_thread)
    assert long_orders == list(range(EXISTING, EXISTING + 61))
    assert fresh_orders == list(range(15))
    assert by_id[after].order == EXISTING + 60
    # Each call answered the id of its own message, in the order the calls were made per thread.
    assert [by_id[i].content for i in posted[:60]] == [f"long {i}" for i in range(60)]
    assert [by_id[i].order for i in posted[:60]] == list(range(EXISTING, EXISTING + 60))


def _sqlite_plan(conn: sa.Connection, sql: str, params: tuple) -> tuple[str, list[str]]:
    driver = conn.connection.driver_connection
    plan = " | ".join(row[3] for row in driver.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    opcodes = [row[1] for row in driver.execute(f"EXPLAIN {sql}", params)]
    return plan, opcodes


async def test_batch_statements_seek_the_index_once_per_thread(database_url):
    ids = sorted([await _new_thread("a"), await _new_thread("b")])
    _fill(ids[0], 2_000)
    engine = get_engine()
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            plan, opcodes = _sqlite_plan(conn, messages_module._threads_sql(conn, 2), tuple(ids))
            assert "SEARCH threads USING INDEX sqlite_autoindex_threads_1 (id=?)" in plan
            assert "SEARCH m USING COVERING INDEX sqlite_autoindex_messages_2 (thread_id=?)" in plan
            assert "SCAN m" not in plan
            # The min/max shortcut: one seek to the last index entry of the thread (SeekLE),
            # then straight out (no loop stepping through the thread's entries with Next/Prev
            # before the aggregate is final).
            seek = opcodes.index("SeekLE")
            assert opcodes[seek + 1 : seek + 7].count("AggStep") == 1
            assert "Goto" in opcodes[seek + 1 : seek + 7]
            assert "GROUP BY" not in messages_module._threads_sql(conn, 2)
        else:
            highest = messages_module._highest_orders_sql(conn, 2)
            plan = "\n".join(
                row[0]
                for row in conn.exec_driver_sql(
                    f"EXPLAIN (ANALYZE, COSTS OFF) {highest}", tuple(ids)
                )
            )
            assert "Index Only Scan Backward using uq_messages_thread_order" in plan, plan
            assert "Limit" in plan, plan
            assert "Seq Scan on messages" not in plan, plan
            lock = messages_module._threads_sql(conn, 2)
            plan = "\n".join(
                row[0] for row in conn.exec_driver_sql(f"EXPLAIN (COSTS OFF) {lock}", tuple(ids))
            )
            assert "LockRows" in plan and "messages" not in plan, plan
            conn.rollback()
