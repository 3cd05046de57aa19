"""sessions:upsert and sessions:get: one SDK session per thread, merged field by field."""

from __future__ import annotations

import pytest

UNKNOWN_THREAD = "thr_00000000000000000000000000"
# Argument validation happens before any database work: checked on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_upsert_creates_the_session_and_get_answers_the_document(api, thread_id):
    state = {"step": 3, "todo": ["a", "b"], "nested": {"ok": True}}

    session_id = await api.mutation(
        "sessions:upsert",
        {
            "threadId": thread_id,
            "sdkSessionId": "sdk-123",
            "phase": "planning",
            "plan": "# Plan",
            "state": state,
        },
    )

    session = await api.query("sessions:get", {"threadId": thread_id})
    assert session_id.startswith("ses_")
    assert session == {
        "_id": session_id,
        "_creationTime": session["_creationTime"],
        "threadId": thread_id,
        "sdkSessionId": "sdk-123",
        "phase": "planning",
        "plan": "# Plan",
        "state": state,
        "updatedTime": session["_creationTime"],
    }
    assert isinstance(session["_creationTime"], float)


async def test_upsert_with_only_the_thread_creates_an_empty_session(api, thread_id):
    session_id = await api.mutation("sessions:upsert", {"threadId": thread_id})

    session = await api.query("sessions:get", {"threadId": thread_id})
    assert session["_id"] == session_id
    assert set(session) == {"_id", "_creationTime", "threadId", "updatedTime"}


async def test_upsert_again_merges_the_given_fields_into_the_same_session(api, thread_id):
    session_id = await api.mutation(
        "sessions:upsert",
        {"threadId": thread_id, "sdkSessionId": "sdk-1", "phase": "planning", "plan": "p1"},
    )

    again = await api.mutation(
        "sessions:upsert",
        {"threadId": thread_id, "phase": "awaiting_approval", "state": {"waiting": True}},
    )

    assert again == session_id
    session = await api.query("sessions:get", {"threadId": thread_id})
    assert session["sdkSessionId"] == "sdk-1"
    assert session["plan"] == "p1"
    assert session["phase"] == "awaiting_approval"
    assert session["state"] == {"waiting": True}
    assert session["updatedTime"] > session["_creationTime"]


async def test_upsert_replaces_state_as_a_whole(api, thread_id):
    await api.mutation("sessions:upsert", {"threadId": thread_id, "state": {"a": 1, "b": 2}})

    await api.mutation("sessions:upsert", {"threadId": thread_id, "state": {"c": 3}})

    session = await api.query("sessions:get", {"threadId": thread_id})
    assert session["state"] == {"c": 3}


async def test_upsert_walks_through_the_phases(api, thread_id):
    for phase in ("planning", "awaiting_approval", "executing", "done"):
        await api.mutation("sessions:upsert", {"threadId": thread_id, "phase": phase})

        assert (await api.query("sessions:get", {"threadId": thread_id}))["phase"] == phase


async def test_each_thread_has_its_own_session(api):
    first = await api.mutation("threads:create", {"title": "1"})
    second = await api.mutation("threads:create", {"title": "2"})

    one = await api.mutation("sessions:upsert", {"threadId": first, "phase": "planning"})
    two = await api.mutation("sessions:upsert", {"threadId": second, "phase": "done"})

    assert one != two
    assert (await api.query("sessions:get", {"threadId": first}))["phase"] == "planning"
    assert (await api.query("sessions:get", {"threadId": second}))["phase"] == "done"


async def test_get_of_a_thread_without_a_session_is_null(api, thread_id):
    assert await api.query("sessions:get", {"threadId": thread_id}) is None


async def test_get_of_an_unknown_thread_is_null(api):
    assert await api.query("sessions:get", {"threadId": UNKNOWN_THREAD}) is None


@sqlite_only
@pytest.mark.parametrize("malformed", ["", "ses_01m8btg5d9f5zw65yttb51e8w5", "thread"])
async def test_get_of_a_malformed_thread_id_is_null(api, malformed):
    assert await api.query("sessions:get", {"threadId": malformed}) is None


async def test_upsert_in_an_unknown_thread_is_an_error_and_creates_nothing(api):
    message = await api.mutation_error(
        "sessions:upsert", {"threadId": UNKNOWN_THREAD, "phase": "planning"}
    )

    assert message == f"Thread {UNKNOWN_THREAD} not found"
    assert await api.query("sessions:get", {"threadId": UNKNOWN_THREAD}) is None


@sqlite_only
async def test_upsert_with_a_malformed_thread_id_is_an_error_naming_threadId(api):
    message = await api.mutation_error("sessions:upsert", {"threadId": "t1", "phase": "x"})

    assert message == "threadId is not a valid thread id: 't1'"


@sqlite_only
@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"state": [1, 2]}, "state", "valid dictionary"),
        ({"state": "running"}, "state", "valid dictionary"),
        ({"phase": 3}, "phase", "valid string"),
        ({"sdkSessionId": 123}, "sdkSessionId", "valid string"),
        ({"plan": {"steps": []}}, "plan", "valid string"),
        ({"sessionId": "s"}, "sessionId", "unknown field"),
    ],
)
async def test_upsert_refuses_bad_arguments_and_changes_nothing(
    api, thread_id, change, field, problem
):
    await api.mutation("sessions:upsert", {"threadId": thread_id, "phase": "planning"})
    before = await api.query("sessions:get", {"threadId": thread_id})

    message = await api.mutation_error("sessions:upsert", {"threadId": thread_id, **change})

    assert message.startswith("Invalid arguments for sessions:upsert")
    assert f"{field}: " in message
    assert problem in message
    assert await api.query("sessions:get", {"threadId": thread_id}) == before


@sqlite_only
async def test_upsert_and_get_without_threadId_are_errors(api):
    assert "threadId: Field required" in await api.mutation_error("sessions:upsert", {"phase": "x"})
    assert "threadId: Field required" in await api.query_error("sessions:get", {})
