"""messages:create and messages:list through the HTTP API.

Paging through messages:list is in test_pagination.py.
"""

from __future__ import annotations

import pytest

UNKNOWN_THREAD = "thr_00000000000000000000000000"
# Argument validation happens before any database work: checked on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def post(api, thread_id: str, content: str = "hi", **fields) -> str:
    return await api.mutation(
        "messages:create",
        {"threadId": thread_id, "role": fields.pop("role", "user"), "content": content, **fields},
    )


async def orders(api, thread_id: str) -> list[int]:
    return [m["order"] for m in await api.query("messages:list", {"threadId": thread_id})]


async def test_create_returns_a_message_id_and_list_answers_the_document(api, thread_id):
    message_id = await post(api, thread_id, "Hello there", role="assistant")

    (message,) = await api.query("messages:list", {"threadId": thread_id})

    assert message_id.startswith("msg_")
    assert message == {
        "_id": message_id,
        "_creationTime": message["_creationTime"],
        "threadId": thread_id,
        "role": "assistant",
        "content": "Hello there",
        "order": 0,
    }
    assert isinstance(message["_creationTime"], float)


async def test_create_without_order_numbers_messages_from_zero(api, thread_id):
    for role in ("user", "assistant", "system", "tool"):
        await post(api, thread_id, role=role)

    messages = await api.query("messages:list", {"threadId": thread_id})

    assert [m["order"] for m in messages] == [0, 1, 2, 3]
    assert [m["role"] for m in messages] == ["user", "assistant", "system", "tool"]


async def test_create_with_an_order_uses_it_and_later_messages_go_above_it(api, thread_id):
    await post(api, thread_id, "first")
    await post(api, thread_id, "jump", order=10)

    await post(api, thread_id, "next")

    assert await orders(api, thread_id) == [0, 10, 11]


async def test_create_with_a_free_order_below_the_highest_is_kept_in_order(api, thread_id):
    await post(api, thread_id, "ten", order=10)

    await post(api, thread_id, "five", order=5)

    messages = await api.query("messages:list", {"threadId": thread_id})
    assert [(m["order"], m["content"]) for m in messages] == [(5, "five"), (10, "ten")]
    await post(api, thread_id, "after")
    assert await orders(api, thread_id) == [5, 10, 11]


async def test_create_with_a_taken_order_is_an_error_and_stores_nothing(api, thread_id):
    await post(api, thread_id, "a")
    await post(api, thread_id, "b")

    message = await api.mutation_error(
        "messages:create", {"threadId": thread_id, "role": "user", "content": "dup", "order": 1}
    )

    assert message == f"order 1 is already taken in thread {thread_id}"
    assert [m["content"] for m in await api.query("messages:list", {"threadId": thread_id})] == [
        "a",
        "b",
    ]
    # The failed attempt did not use up an order.
    await post(api, thread_id, "c")
    assert await orders(api, thread_id) == [0, 1, 2]


async def test_create_stores_metadata_and_content_verbatim(api, thread_id):
    content = "  multi\nline\ttext with ünïcödé and emoji \U0001f680 and 'quotes' \"here\"  "
    metadata = {"model": "claude", "tokens": {"in": 10, "out": 20}, "list": [1, 2.5, None]}

    await post(api, thread_id, content, metadata=metadata)

    (message,) = await api.query("messages:list", {"threadId": thread_id})
    assert message["content"] == content
    assert message["metadata"] == metadata


async def test_create_accepts_empty_content(api, thread_id):
    await post(api, thread_id, "")

    (message,) = await api.query("messages:list", {"threadId": thread_id})
    assert message["content"] == ""


async def test_create_leaves_the_thread_document_unchanged(api, thread_id):
    """A message is written without touching its thread's row (the ingest hot path); the
    thread's updatedTime follows changes to the thread document itself."""
    before = await api.query("threads:get", {"threadId": thread_id})

    await post(api, thread_id)

    assert await api.query("threads:get", {"threadId": thread_id}) == before


async def test_create_in_an_unknown_thread_is_an_error(api):
    message = await api.mutation_error(
        "messages:create", {"threadId": UNKNOWN_THREAD, "role": "user", "content": "x"}
    )

    assert message == f"Thread {UNKNOWN_THREAD} not found"


@sqlite_only
async def test_create_with_a_malformed_thread_id_is_an_error_naming_threadId(api):
    message = await api.mutation_error(
        "messages:create", {"threadId": "thread-1", "role": "user", "content": "x"}
    )

    assert message == "threadId is not a valid thread id: 'thread-1'"


@sqlite_only
@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"role": "robot"}, "role", "'user', 'assistant', 'system' or 'tool'"),
        ({"role": "User"}, "role", "'user', 'assistant', 'system' or 'tool'"),
        ({"role": None}, "role", "'user', 'assistant', 'system' or 'tool'"),
        ({"content": 42}, "content", "valid string"),
        ({"content": None}, "content", "valid string"),
        ({"content": ["a"]}, "content", "valid string"),
        ({"order": -1}, "order", "greater than or equal to 0"),
        ({"order": 1.5}, "order", "valid integer"),
        ({"order": "3"}, "order", "valid integer"),
        ({"order": True}, "order", "valid integer"),
        ({"metadata": [1, 2]}, "metadata", "valid dictionary"),
        ({"threadId": 12}, "threadId", "valid string"),
        ({"author": "me"}, "author", "unknown field"),
    ],
)
async def test_create_refuses_bad_arguments_naming_the_field(
    api, thread_id, change, field, problem
):
    args = {"threadId": thread_id, "role": "user", "content": "x", **change}

    message = await api.mutation_error("messages:create", args)

    assert message.startswith("Invalid arguments for messages:create")
    assert f"{field}: " in message
    assert problem in message
    assert await api.query("messages:list", {"threadId": thread_id}) == []


@sqlite_only
@pytest.mark.parametrize("missing", ["threadId", "role", "content"])
async def test_create_without_a_required_field_is_an_error_naming_it(api, thread_id, missing):
    args = {"threadId": thread_id, "role": "user", "content": "x"}
    del args[missing]

    message = await api.mutation_error("messages:create", args)

    assert f"{missing}: Field required" in message
    assert await api.query("messages:list", {"threadId": thread_id}) == []


async def test_list_keeps_threads_apart(api):
    first = await api.mutation("threads:create", {"title": "1"})
    second = await api.mutation("threads:create", {"title": "2"})
    await post(api, first, "in first")
    await post(api, second, "in second")

    listed = await api.query("messages:list", {"threadId": second})

    assert [(m["content"], m["order"]) for m in listed] == [("in second", 0)]


async def test_list_of_a_thread_without_messages_is_empty(api, thread_id):
    assert await api.query("messages:list", {"threadId": thread_id}) == []


async def test_list_of_an_unknown_thread_is_empty(api):
    assert await api.query("messages:list", {"threadId": UNKNOWN_THREAD}) == []


async def test_list_with_paginationOpts_answers_a_page_newest_first(api, thread_id):
    ids = [await post(api, thread_id, f"m{i}") for i in range(4)]

    result = await api.query(
        "messages:list", {"threadId": thread_id, "paginationOpts": {"numItems": 3, "cursor": None}}
    )

    assert [m["_id"] for m in result["page"]] == ids[:0:-1]
    assert result["isDone"] is False


@sqlite_only
async def test_list_without_threadId_is_an_error(api):
    message = await api.query_error("messages:list", {})

    assert "threadId: Field required" in message


@sqlite_only
async def test_list_refuses_unknown_fields(api, thread_id):
    message = await api.query_error("messages:list", {"threadId": thread_id, "role": "user"})

    assert "role: unknown field" in message


async def test_create_accepts_the_highest_order_the_databases_can_hold(api, thread_id):
    await post(api, thread_id, "last", order=2**31 - 2)

    assert await orders(api, thread_id) == [2**31 - 2]


@sqlite_only
@pytest.mark.parametrize("order", [2**31 - 1, 2**53, 10**30])
async def test_create_with_an_order_beyond_the_databases_range_is_an_error(api, thread_id, order):
    message = await api.mutation_error(
        "messages:create", {"threadId": thread_id, "role": "user", "content": "x", "order": order}
    )

    assert "order: Input should be less than or equal to 2147483646" in message
    assert await api.query("messages:list", {"threadId": thread_id}) == []


async def test_create_without_order_after_the_highest_order_is_a_clear_error(api, thread_id):
    await post(api, thread_id, "last", order=2**31 - 2)

    message = await api.mutation_error(
        "messages:create", {"threadId": thread_id, "role": "user", "content": "one more"}
    )

    assert message == f"order: thread {thread_id} has reached the highest order (2147483646)"
    assert await orders(api, thread_id) == [2**31 - 2]
