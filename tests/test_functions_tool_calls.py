"""toolCalls:record and toolCalls:list: the audit trail of what the agent ran."""

from __future__ import annotations

import pytest

UNKNOWN_THREAD = "thr_00000000000000000000000000"
# Argument validation happens before any database work: checked on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def record(api, thread_id: str, **fields) -> str:
    args = {"threadId": thread_id, "toolName": "search", "input": {"q": "x"}, **fields}
    return await api.mutation("toolCalls:record", args)


async def listed(api, thread_id: str) -> list[dict]:
    return await api.query("toolCalls:list", {"threadId": thread_id})


async def test_record_returns_the_id_and_list_answers_the_document(api, thread_id):
    call_id = await record(
        api,
        thread_id,
        toolName="web_search",
        input={"query": "weather", "limit": 3},
        output={"results": ["sunny"]},
        status="succeeded",
        toolCallId="toolu_01",
        durationMs=12.5,
    )

    (call,) = await listed(api, thread_id)
    assert call_id.startswith("tc_")
    assert call == {
        "_id": call_id,
        "_creationTime": call["_creationTime"],
        "threadId": thread_id,
        "toolName": "web_search",
        "input": {"query": "weather", "limit": 3},
        "output": {"results": ["sunny"]},
        "status": "succeeded",
        "toolCallId": "toolu_01",
        "durationMs": 12.5,
    }
    assert isinstance(call["_creationTime"], float)


async def test_record_without_status_is_started_and_with_an_output_is_succeeded(api, thread_id):
    await record(api, thread_id, toolCallId="a")
    await record(api, thread_id, toolCallId="b", output="done")

    statuses = [(c["toolCallId"], c["status"]) for c in await listed(api, thread_id)]

    assert statuses == [("a", "started"), ("b", "succeeded")]


async def test_record_keeps_any_json_input_and_output(api, thread_id):
    values = [["a", 1], "plain text", 42, 3.25, True, {"deep": {"er": [None, {"x": 1}]}}]
    for value in values:
        await record(api, thread_id, input=value, output=value)

    calls = await listed(api, thread_id)

    assert [c["input"] for c in calls] == values
    assert [c["output"] for c in calls] == values


async def test_record_the_same_tool_call_id_again_updates_that_document(api, thread_id):
    first = await record(api, thread_id, toolName="bash", input={"cmd": "ls"}, toolCallId="toolu_9")

    second = await record(
        api,
        thread_id,
        toolName="bash",
        input={"cmd": "ls"},
        toolCallId="toolu_9",
        output={"stdout": "a\nb"},
        status="succeeded",
        durationMs=40,
    )

    assert second == first
    (call,) = await listed(api, thread_id)
    assert call["_id"] == first
    assert call["status"] == "succeeded"
    assert call["output"] == {"stdout": "a\nb"}
    assert call["durationMs"] == 40
    assert call["input"] == {"cmd": "ls"}


async def test_record_a_failure_for_a_started_call(api, thread_id):
    call_id = await record(api, thread_id, toolCallId="t1")

    await record(api, thread_id, toolCallId="t1", status="failed", output={"error": "boom"})

    (call,) = await listed(api, thread_id)
    assert (call["_id"], call["status"], call["output"]) == (call_id, "failed", {"error": "boom"})


async def test_the_same_tool_call_id_in_another_thread_is_another_document(api):
    first = await api.mutation("threads:create", {"title": "1"})
    second = await api.mutation("threads:create", {"title": "2"})

    one = await record(api, first, toolCallId="shared")
    two = await record(api, second, toolCallId="shared")

    assert one != two
    assert [c["_id"] for c in await listed(api, first)] == [one]
    assert [c["_id"] for c in await listed(api, second)] == [two]


async def test_calls_without_a_tool_call_id_are_separate_documents(api, thread_id):
    one = await record(api, thread_id)
    two = await record(api, thread_id)

    assert one != two
    assert len(await listed(api, thread_id)) == 2


async def test_list_answers_calls_in_order_of_arrival(api, thread_id):
    ids = [await record(api, thread_id, toolName=f"tool{i}") for i in range(6)]
    # Updating an earlier call does not move it.
    await record(api, thread_id, toolName="late", toolCallId="x")
    await record(api, thread_id, toolName="late", toolCallId="x", output=1)

    calls = await listed(api, thread_id)

    assert [c["_id"] for c in calls][:6] == ids
    assert [c["toolName"] for c in calls] == [f"tool{i}" for i in range(6)] + ["late"]


async def test_list_of_an_unknown_thread_is_empty(api, thread_id):
    await record(api, thread_id)

    assert await listed(api, UNKNOWN_THREAD) == []


async def test_record_in_an_unknown_thread_is_an_error(api):
    message = await api.mutation_error(
        "toolCalls:record", {"threadId": UNKNOWN_THREAD, "toolName": "x", "input": {}}
    )

    assert message == f"Thread {UNKNOWN_THREAD} not found"


@sqlite_only
async def test_record_with_a_malformed_thread_id_is_an_error_naming_threadId(api):
    message = await api.mutation_error(
        "toolCalls:record", {"threadId": "tc_1", "toolName": "x", "input": {}}
    )

    assert message == "threadId is not a valid thread id: 'tc_1'"


@sqlite_only
@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"status": "running"}, "status", "'started', 'succeeded' or 'failed'"),
        ({"toolName": 5}, "toolName", "valid string"),
        ({"toolCallId": 5}, "toolCallId", "valid string"),
        ({"durationMs": -1}, "durationMs", "greater than or equal to 0"),
        ({"durationMs": "12"}, "durationMs", "valid number"),
        ({"name": "x"}, "name", "unknown field"),
    ],
)
async def test_record_refuses_bad_arguments_and_stores_nothing(
    api, thread_id, change, field, problem
):
    message = await api.mutation_error(
        "toolCalls:record", {"threadId": thread_id, "toolName": "x", "input": {}, **change}
    )

    assert message.startswith("Invalid arguments for toolCalls:record")
    assert f"{field}: " in message
    assert problem in message
    assert await listed(api, thread_id) == []


@sqlite_only
@pytest.mark.parametrize("missing", ["threadId", "toolName", "input"])
async def test_record_without_a_required_field_is_an_error_naming_it(api, thread_id, missing):
    args = {"threadId": thread_id, "toolName": "x", "input": {}}
    del args[missing]

    message = await api.mutation_error("toolCalls:record", args)

    assert f"{missing}: Field required" in message
    assert await listed(api, thread_id) == []


@sqlite_only
async def test_list_without_threadId_is_an_error(api):
    assert "threadId: Field required" in await api.query_error("toolCalls:list", {})


async def test_recording_again_with_only_a_duration_keeps_the_status(api, thread_id):
    args = {
        "threadId": thread_id,
        "toolName": "Bash",
        "input": {"command": "ls"},
        "toolCallId": "t-1",
    }
    await api.mutation("toolCalls:record", {**args, "output": {"exit": 0}, "status": "failed"})
    await api.mutation("toolCalls:record", {**args, "durationMs": 12.5})
    [call] = await api.query("toolCalls:list", {"threadId": thread_id})
    assert (call["status"], call["durationMs"], call["output"]) == ("failed", 12.5, {"exit": 0})
