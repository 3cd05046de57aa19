"""threads:create, threads:get, threads:list, threads:update, threads:remove through the HTTP API.

Paging through threads:list end to end is in test_pagination.py; who may call what is in
test_permissions.py.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from models import (
    ApprovalRequest,
    Artifact,
    ArtifactVersion,
    Message,
    Session,
    Thread,
    ToolCall,
)

UNKNOWN_THREAD = "thr_00000000000000000000000000"
# Argument validation happens before any database work: checked on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FIRST_PAGE = {"numItems": 10, "cursor": None}


def assert_thread_document(doc: dict) -> None:
    assert isinstance(doc["_id"], str) and doc["_id"].startswith("thr_")
    assert isinstance(doc["_creationTime"], float)
    assert isinstance(doc["updatedTime"], float)
    assert doc["status"] in ("active", "archived")
    # camelCase fields only, and the message counter never leaves the server.
    assert not [key for key in doc if "_" in key.lstrip("_")]
    assert "nextOrder" not in doc


async def test_create_returns_an_id_that_get_answers_with_the_document(api):
    thread_id = await api.mutation("threads:create", {"title": "Plan the trip"})

    thread = await api.query("threads:get", {"threadId": thread_id})

    assert_thread_document(thread)
    assert thread["_id"] == thread_id
    assert thread["title"] == "Plan the trip"
    assert thread["status"] == "active"
    assert thread["updatedTime"] == thread["_creationTime"]
    assert set(thread) == {"_id", "_creationTime", "title", "status", "updatedTime"}


async def test_create_stores_user_id_and_nested_metadata_verbatim(api):
    metadata = {"source": "slack", "tags": ["a", "b"], "depth": {"n": 1, "ok": True, "x": None}}
    thread_id = await api.mutation(
        "threads:create", {"title": "t", "userId": "user-42", "metadata": metadata}
    )

    thread = await api.query("threads:get", {"threadId": thread_id})

    assert thread["userId"] == "user-42"
    assert thread["metadata"] == metadata


async def test_create_without_any_field_makes_an_active_thread_with_an_empty_title(api):
    thread_id = await api.mutation("threads:create", {})

    thread = await api.query("threads:get", {"threadId": thread_id})

    assert thread["title"] == ""
    assert thread["status"] == "active"
    assert "userId" not in thread


async def test_create_gives_each_thread_its_own_id(api):
    first = await api.mutation("threads:create", {"title": "a"})
    second = await api.mutation("threads:create", {"title": "a"})

    assert first != second


@sqlite_only
@pytest.mark.parametrize(
    ("args", "field", "problem"),
    [
        ({"title": 5}, "title", "valid string"),
        ({"title": None, "userId": 7}, "userId", "valid string"),
        ({"metadata": ["not", "an", "object"]}, "metadata", "valid dictionary"),
        ({"metadata": "text"}, "metadata", "valid dictionary"),
        ({"title": "x", "colour": "red"}, "colour", "unknown field"),
        ({"title": "x" * 1001}, "title", "at most 1000"),
    ],
)
async def test_create_refuses_bad_arguments_naming_the_field(api, args, field, problem):
    before = await api.query("threads:list", {"paginationOpts": FIRST_PAGE})

    message = await api.mutation_error("threads:create", args)

    assert message.startswith("Invalid arguments for threads:create")
    assert f"{field}: " in message
    assert problem in message
    after = await api.query("threads:list", {"paginationOpts": FIRST_PAGE})
    assert after["page"] == before["page"]


async def test_get_unknown_thread_is_null(api):
    assert await api.query("threads:get", {"threadId": UNKNOWN_THREAD}) is None


@sqlite_only
@pytest.mark.parametrize(
    "malformed",
    [
        "",
        "nope",
        "thr_",
        "msg_01m8btg5d9f5zw65yttb51e8w5",
        "THR_01M8BTG5D9F5ZW65YTTB51E8W5",
        pytest.param("x" * 100, id="100-characters"),
    ],
)
async def test_get_malformed_id_is_null(api, thread_id, malformed):
    assert await api.query("threads:get", {"threadId": malformed}) is None


@sqlite_only
async def test_get_with_a_number_as_id_is_an_error_naming_threadId(api):
    message = await api.query_error("threads:get", {"threadId": 5})

    assert "threadId: Input should be a valid string" in message


@sqlite_only
async def test_get_without_threadId_is_an_error(api):
    message = await api.query_error("threads:get", {})

    assert "threadId: Field required" in message


async def test_update_changes_title_status_and_metadata(api, thread_id):
    before = await api.query("threads:get", {"threadId": thread_id})

    result = await api.mutation(
        "threads:update",
        {"threadId": thread_id, "title": "Renamed", "status": "archived", "metadata": {"k": 1}},
    )

    assert result is None
    after = await api.query("threads:get", {"threadId": thread_id})
    assert after["title"] == "Renamed"
    assert after["status"] == "archived"
    assert after["metadata"] == {"k": 1}
    assert after["updatedTime"] > before["updatedTime"]
    assert after["_creationTime"] == before["_creationTime"]


async def test_update_with_only_a_status_keeps_title_and_metadata(api):
    thread_id = await api.mutation("threads:create", {"title": "Keep me", "metadata": {"a": 1}})

    await api.mutation("threads:update", {"threadId": thread_id, "status": "archived"})

    thread = await api.query("threads:get", {"threadId": thread_id})
    assert thread["title"] == "Keep me"
    assert thread["metadata"] == {"a": 1}
    assert thread["status"] == "archived"


async def test_update_can_reactivate_an_archived_thread(api, thread_id):
    await api.mutation("threads:update", {"threadId": thread_id, "status": "archived"})
    await api.mutation("threads:update", {"threadId": thread_id, "status": "active"})

    thread = await api.query("threads:get", {"threadId": thread_id})
    assert thread["status"] == "active"


async def test_update_unknown_thread_is_an_error(api):
    message = await api.mutation_error("threads:update", {"threadId": UNKNOWN_THREAD, "title": "x"})

    assert message == f"Thread {UNKNOWN_THREAD} not found"


@sqlite_only
async def test_update_malformed_thread_id_is_an_error_naming_threadId(api):
    message = await api.mutation_error("threads:update", {"threadId": "nope", "title": "x"})

    assert message == "threadId is not a valid thread id: 'nope'"


@sqlite_only
@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"status": "deleted"}, "status"),
        ({"status": "ACTIVE"}, "status"),
        ({"title": ["x"]}, "title"),
        ({"metadata": 3}, "metadata"),
        ({"owner": "me"}, "owner"),
    ],
)
async def test_update_refuses_bad_arguments_and_changes_nothing(api, thread_id, extra, field):
    before = await api.query("threads:get", {"threadId": thread_id})

    message = await api.mutation_error("threads:update", {"threadId": thread_id, **extra})

    assert f"{field}: " in message
    assert await api.query("threads:get", {"threadId": thread_id}) == before


@sqlite_only
async def test_update_without_threadId_is_an_error(api):
    message = await api.mutation_error("threads:update", {"title": "x"})

    assert "threadId: Field required" in message


def count_rows(database_url: str) -> dict[str, int]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return {
                model.__tablename__: conn.execute(
                    sa.select(sa.func.count()).select_from(model.__table__)
                ).scalar_one()
                for model in (
                    Thread,
                    Message,
                    Artifact,
                    ArtifactVersion,
                    Session,
                    ToolCall,
                    ApprovalRequest,
                )
            }
    finally:
        engine.dispose()


async def fill_thread(api, thread_id: str) -> None:
    """One of everything that hangs off a thread, and a second artifact version."""
    await api.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": "hi"})
    await api.mutation(
        "messages:create", {"threadId": thread_id, "role": "assistant", "content": "hello"}
    )
    artifact_id = await api.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": "v1"}
    )
    await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": "v2"})
    await api.mutation("sessions:upsert", {"threadId": thread_id, "phase": "planning"})
    await api.mutation(
        "toolCalls:record", {"threadId": thread_id, "toolName": "search", "input": {"q": "x"}}
    )
    await api.mutation(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": "v2", "artifactId": artifact_id},
    )


async def test_remove_deletes_the_thread_and_everything_that_hangs_off_it(
    api, database_url, thread_id
):
    await fill_thread(api, thread_id)
    assert count_rows(database_url) == {
        "threads": 1,
        "messages": 2,
        "artifacts": 1,
        "artifact_versions": 2,
        "sessions": 1,
        "tool_calls": 1,
        "approval_requests": 1,
    }

    assert await api.mutation("threads:remove", {"threadId": thread_id}) is None

    assert set(count_rows(database_url).values()) == {0}
    assert await api.query("threads:get", {"threadId": thread_id}) is None
    assert await api.query("messages:list", {"threadId": thread_id}) == []
    assert await api.query("sessions:get", {"threadId": thread_id}) is None
    assert await api.query("toolCalls:list", {"threadId": thread_id}) == []
    assert await api.query("approvalRequests:list", {"threadId": thread_id}) == []
    assert await api.query("artifacts:list", {"threadId": thread_id}) == []


async def test_remove_leaves_other_threads_and_their_documents_alone(api, database_url):
    doomed = await api.mutation("threads:create", {"title": "doomed"})
    kept = await api.mutation("threads:create", {"title": "kept"})
    await fill_thread(api, doomed)
    await fill_thread(api, kept)
    kept_messages = await api.query("messages:list", {"threadId": kept})

    await api.mutation("threads:remove", {"threadId": doomed})

    assert count_rows(database_url) == {
        "threads": 1,
        "messages": 2,
        "artifacts": 1,
        "artifact_versions": 2,
        "sessions": 1,
        "tool_calls": 1,
        "approval_requests": 1,
    }
    assert await api.query("messages:list", {"threadId": kept}) == kept_messages
    assert (await api.query("threads:get", {"threadId": kept}))["title"] == "kept"


async def test_remove_twice_is_an_error_the_second_time(api, thread_id):
    await api.mutation("threads:remove", {"threadId": thread_id})

    message = await api.mutation_error("threads:remove", {"threadId": thread_id})

    assert message == f"Thread {thread_id} not found"


@sqlite_only
async def test_remove_malformed_thread_id_is_an_error_naming_threadId(api):
    message = await api.mutation_error("threads:remove", {"threadId": "art_x"})

    assert message == "threadId is not a valid thread id: 'art_x'"


@sqlite_only
async def test_remove_refuses_unknown_fields_and_keeps_the_thread(api, thread_id):
    message = await api.mutation_error("threads:remove", {"threadId": thread_id, "force": True})

    assert "force: unknown field" in message
    assert await api.query("threads:get", {"threadId": thread_id}) is not None


async def test_list_answers_a_page_of_thread_documents_newest_first(api):
    ids = [await api.mutation("threads:create", {"title": f"t{i}"}) for i in range(3)]

    result = await api.query("threads:list", {"paginationOpts": FIRST_PAGE})

    assert set(result) == {"page", "isDone", "continueCursor"}
    assert [doc["_id"] for doc in result["page"]] == ids[::-1]
    assert result["isDone"] is True
    for doc in result["page"]:
        assert_thread_document(doc)


@sqlite_only
async def test_list_without_paginationOpts_is_an_error(api):
    message = await api.query_error("threads:list", {})

    assert "paginationOpts: Field required" in message


@sqlite_only
async def test_list_refuses_an_unknown_status(api):
    message = await api.query_error(
        "threads:list", {"paginationOpts": FIRST_PAGE, "status": "deleted"}
    )

    assert "status: " in message
