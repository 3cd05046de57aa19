"""The SQLite writer's memo (api/writer.py): messages:create remembers each thread's owner and
next order between batches, and the memo is emptied whenever it may no longer be true: another
connection committed (another engine, the CLI, another process), a batch held another kind of
job, or something rolled back. Orders stay gap-free and visibility exact across all of these."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from api.db import get_engine
from api.settings import get_settings
from api.writer import get_writer
from tests.conftest import bearer

THREADS = "messages.threads"


def _writer():
    return get_writer(get_engine(), get_settings().max_batch)


def _orders(url: str, thread_id: str) -> list[int]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text('SELECT "order" FROM messages WHERE thread_id = :t ORDER BY "order"'),
            {"t": thread_id},
        )
        orders = [row[0] for row in rows]
    engine.dispose()
    return orders


async def _post(api, thread_id: str, count: int) -> list[str]:
    args = {"threadId": thread_id, "role": "assistant", "content": "x"}
    return await asyncio.gather(*[api.mutation("messages:create", args) for _ in range(count)])


@pytest.fixture
def sqlite_only(database_url) -> str:
    if not database_url.startswith("sqlite"):
        pytest.skip("the memo is SQLite's (PostgreSQL: see test_postgresql_keeps_no_memo)")
    return database_url


async def test_posts_are_remembered_and_continue_from_the_memo(sqlite_only, api, thread_id):
    await _post(api, thread_id, 5)
    assert _writer().memo[THREADS][thread_id][1] == 5

    await _post(api, thread_id, 5)

    assert _writer().memo[THREADS][thread_id][1] == 10
    assert _orders(sqlite_only, thread_id) == list(range(10))


async def test_another_connection_writing_empties_the_memo(sqlite_only, api, thread_id):
    await _post(api, thread_id, 3)
    # Another engine on the same file (what the CLI or a second process is): it appends the
    # next order itself, then takes one more; the writer must not reuse either.
    other = sa.create_engine(sqlite_only, poolclass=sa.pool.NullPool)
    with other.begin() as conn:
        for order in (3, 4):
            conn.execute(
                sa.text(
                    'INSERT INTO messages (id, creation_time, thread_id, role, content, "order") '
                    "VALUES (:id, 1, :t, 'assistant', 'cli', :o)"
                ),
                {"id": f"msg_cli{order:023d}", "t": thread_id, "o": order},
            )
    other.dispose()

    await _post(api, thread_id, 3)

    assert _orders(sqlite_only, thread_id) == list(range(8))
    assert _writer().memo[THREADS][thread_id][1] == 8


async def test_owner_changed_by_another_connection_is_seen(sqlite_only, http, people):
    person = bearer(people["user"]["token"])
    response = await http.post(
        "/api/mutation", json={"path": "threads:create", "args": {"title": "mine"}}, headers=person
    )
    thread_id = response.json()["value"]
    post = {"path": "messages:create", "args": {"threadId": thread_id, "role": "user"}}
    post["args"]["content"] = "first"
    assert (await http.post("/api/mutation", json=post, headers=person)).json()["status"] == (
        "success"
    )
    assert _writer().memo[THREADS][thread_id][0] == people["user"]["id"]
    # The thread changes hands outside this process's writer (SQL from another connection).
    other = sa.create_engine(sqlite_only, poolclass=sa.pool.NullPool)
    with other.begin() as conn:
        conn.execute(
            sa.text("UPDATE threads SET user_id = :u WHERE id = :t"),
            {"u": people["viewer"]["id"], "t": thread_id},
        )
    other.dispose()

    answer = (await http.post("/api/mutation", json=post, headers=person)).json()

    assert answer["status"] == "error"
    assert answer["errorMessage"] == f"Thread {thread_id} not found"
    assert _orders(sqlite_only, thread_id) == [0]


async def test_another_kind_of_job_empties_the_memo(sqlite_only, api, thread_id):
    await _post(api, thread_id, 2)
    assert thread_id in _writer().memo[THREADS]

    await api.mutation("threads:remove", {"threadId": thread_id})

    assert THREADS not in _writer().memo
    args = {"threadId": thread_id, "role": "assistant", "content": "late"}
    assert await api.mutation_error("messages:create", args) == f"Thread {thread_id} not found"


async def test_a_rollback_empties_the_memo(sqlite_only, api, thread_id):
    await _post(api, thread_id, 2)
    assert thread_id in _writer().memo[THREADS]
    missing = "thr_00000000000000000000000000"

    error = await api.mutation_error(
        "messages:create", {"threadId": missing, "role": "assistant", "content": "x"}
    )

    assert error == f"Thread {missing} not found"
    assert _writer().memo == {}
    await _post(api, thread_id, 2)
    assert _orders(sqlite_only, thread_id) == [0, 1, 2, 3]


async def test_postgresql_keeps_no_memo(database_url, api, thread_id):
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL only")
    await _post(api, thread_id, 3)
    assert _writer().memo == {}
    assert _orders(database_url, thread_id) == [0, 1, 2]
