"""artifacts:create, artifacts:update, artifacts:get, artifacts:list, artifacts:versions.

Reviewers' status-only rights are in test_permissions.py; paging in test_pagination.py.
"""

from __future__ import annotations

import pytest

UNKNOWN_THREAD = "thr_00000000000000000000000000"
UNKNOWN_ARTIFACT = "art_00000000000000000000000000"
# Argument validation happens before any database work: checked on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def create(api, thread_id: str, content: str = "# Plan", **fields) -> str:
    return await api.mutation(
        "artifacts:create",
        {"threadId": thread_id, "type": fields.pop("type", "plan"), "content": content, **fields},
    )


async def get(api, artifact_id: str) -> dict | None:
    return await api.query("artifacts:get", {"artifactId": artifact_id})


async def versions(api, artifact_id: str) -> list[dict]:
    return await api.query("artifacts:versions", {"artifactId": artifact_id})


async def test_create_makes_version_one_in_draft_and_get_answers_the_document(api, thread_id):
    artifact_id = await create(api, thread_id, "# Plan\n1. Do it", title="The plan")

    artifact = await get(api, artifact_id)

    assert artifact_id.startswith("art_")
    assert artifact == {
        "_id": artifact_id,
        "_creationTime": artifact["_creationTime"],
        "threadId": thread_id,
        "type": "plan",
        "title": "The plan",
        "content": "# Plan\n1. Do it",
        "status": "draft",
        "version": 1,
        "updatedTime": artifact["_creationTime"],
    }
    assert isinstance(artifact["_creationTime"], float)


async def test_create_without_a_title_omits_it(api, thread_id):
    artifact = await get(api, await create(api, thread_id))

    assert "title" not in artifact


async def test_create_accepts_every_status_and_records_it_on_version_one(api, thread_id):
    for status in ("draft", "pending_review", "approved", "rejected", "final"):
        artifact_id = await create(api, thread_id, status=status)

        assert (await get(api, artifact_id))["status"] == status
        assert [v["status"] for v in await versions(api, artifact_id)] == [status]


@sqlite_only
@pytest.mark.parametrize("kind", ["plan", "report", "diagram", "code_review", "x"])
async def test_create_accepts_short_lowercase_types(api, thread_id, kind):
    artifact_id = await create(api, thread_id, type=kind)

    assert (await get(api, artifact_id))["type"] == kind


async def test_create_writes_version_one_with_its_author(api, thread_id):
    artifact_id = await create(api, thread_id, "v1 text", status="pending_review")

    (version,) = await versions(api, artifact_id)

    assert version["artifactId"] == artifact_id
    assert version["version"] == 1
    assert version["content"] == "v1 text"
    assert version["status"] == "pending_review"
    assert version["createdBy"].startswith("key:key_")
    assert version["_id"].startswith("arv_")


async def test_create_in_an_unknown_thread_is_an_error(api):
    message = await api.mutation_error(
        "artifacts:create", {"threadId": UNKNOWN_THREAD, "type": "plan", "content": "x"}
    )

    assert message == f"Thread {UNKNOWN_THREAD} not found"


@sqlite_only
@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"type": "Plan"}, "type", "should match pattern"),
        ({"type": ""}, "type", "should match pattern"),
        ({"type": "a plan"}, "type", "should match pattern"),
        ({"type": "x" * 41}, "type", "should match pattern"),
        ({"type": 3}, "type", "valid string"),
        ({"content": None}, "content", "valid string"),
        ({"content": {"md": "x"}}, "content", "valid string"),
        ({"status": "published"}, "status", "Input should be"),
        ({"title": 1}, "title", "valid string"),
        ({"version": 2}, "version", "unknown field"),
    ],
)
async def test_create_refuses_bad_arguments_naming_the_field(
    api, thread_id, change, field, problem
):
    args = {"threadId": thread_id, "type": "plan", "content": "x", **change}

    message = await api.mutation_error("artifacts:create", args)

    assert message.startswith("Invalid arguments for artifacts:create")
    assert f"{field}: " in message
    assert problem in message
    assert await api.query("artifacts:list", {"threadId": thread_id}) == []


@sqlite_only
@pytest.mark.parametrize("missing", ["threadId", "type", "content"])
async def test_create_without_a_required_field_is_an_error_naming_it(api, thread_id, missing):
    args = {"threadId": thread_id, "type": "plan", "content": "x"}
    del args[missing]

    message = await api.mutation_error("artifacts:create", args)

    assert f"{missing}: Field required" in message
    assert await api.query("artifacts:list", {}) == []


@sqlite_only
async def test_create_with_a_malformed_thread_id_is_an_error_naming_threadId(api):
    message = await api.mutation_error(
        "artifacts:create", {"threadId": "art_1", "type": "plan", "content": "x"}
    )

    assert message == "threadId is not a valid thread id: 'art_1'"


async def test_update_content_makes_a_new_version(api, thread_id):
    artifact_id = await create(api, thread_id, "v1")

    assert (
        await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": "v2"}) is None
    )

    artifact = await get(api, artifact_id)
    assert artifact["content"] == "v2"
    assert artifact["version"] == 2
    assert artifact["updatedTime"] > artifact["_creationTime"]
    assert [(v["version"], v["content"]) for v in await versions(api, artifact_id)] == [
        (1, "v1"),
        (2, "v2"),
    ]


async def test_versions_list_every_version_oldest_first(api, thread_id):
    artifact_id = await create(api, thread_id, "v1")
    for n in range(2, 6):
        await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": f"v{n}"})

    listed = await versions(api, artifact_id)

    assert [v["version"] for v in listed] == [1, 2, 3, 4, 5]
    assert [v["content"] for v in listed] == ["v1", "v2", "v3", "v4", "v5"]
    assert [v["_creationTime"] for v in listed] == sorted(v["_creationTime"] for v in listed)
    assert (await get(api, artifact_id))["version"] == 5


async def test_update_status_alone_does_not_make_a_version(api, thread_id):
    artifact_id = await create(api, thread_id, "v1")

    await api.mutation("artifacts:update", {"artifactId": artifact_id, "status": "pending_review"})

    artifact = await get(api, artifact_id)
    assert artifact["status"] == "pending_review"
    assert artifact["version"] == 1
    assert artifact["content"] == "v1"
    assert len(await versions(api, artifact_id)) == 1


async def test_update_title_alone_does_not_make_a_version(api, thread_id):
    artifact_id = await create(api, thread_id, "v1", title="Old")

    await api.mutation("artifacts:update", {"artifactId": artifact_id, "title": "New"})

    artifact = await get(api, artifact_id)
    assert artifact["title"] == "New"
    assert artifact["version"] == 1
    assert len(await versions(api, artifact_id)) == 1


async def test_update_with_the_same_content_does_not_make_a_version(api, thread_id):
    artifact_id = await create(api, thread_id, "same")

    await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": "same"})

    assert (await get(api, artifact_id))["version"] == 1
    assert len(await versions(api, artifact_id)) == 1


async def test_update_content_and_status_records_the_new_status_on_the_version(api, thread_id):
    artifact_id = await create(api, thread_id, "v1")

    await api.mutation(
        "artifacts:update", {"artifactId": artifact_id, "content": "v2", "status": "final"}
    )

    listed = await versions(api, artifact_id)
    assert [(v["version"], v["status"]) for v in listed] == [(1, "draft"), (2, "final")]
    assert (await get(api, artifact_id))["status"] == "final"


async def test_update_content_keeps_the_current_status_on_the_new_version(api, thread_id):
    artifact_id = await create(api, thread_id, "v1", status="pending_review")

    await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": "v2"})

    assert [v["status"] for v in await versions(api, artifact_id)] == [
        "pending_review",
        "pending_review",
    ]


async def test_update_with_nothing_to_change_keeps_the_artifact(api, thread_id):
    artifact_id = await create(api, thread_id, "v1", title="T")
    before = await get(api, artifact_id)

    await api.mutation("artifacts:update", {"artifactId": artifact_id})

    after = await get(api, artifact_id)
    assert {k: v for k, v in after.items() if k != "updatedTime"} == {
        k: v for k, v in before.items() if k != "updatedTime"
    }


async def test_update_unknown_artifact_is_an_error(api):
    message = await api.mutation_error(
        "artifacts:update", {"artifactId": UNKNOWN_ARTIFACT, "status": "final"}
    )

    assert message == f"Artifact {UNKNOWN_ARTIFACT} not found"


@sqlite_only
async def test_update_malformed_artifact_id_is_an_error_naming_artifactId(api, thread_id):
    message = await api.mutation_error(
        "artifacts:update", {"artifactId": thread_id, "status": "final"}
    )

    assert message == f"artifactId is not a valid artifact id: {thread_id!r}"


@sqlite_only
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "published"}, "status"),
        ({"content": 5}, "content"),
        ({"title": ["t"]}, "title"),
        ({"type": "report"}, "type"),
        ({"version": 7}, "version"),
    ],
)
async def test_update_refuses_bad_arguments_and_changes_nothing(api, thread_id, change, field):
    artifact_id = await create(api, thread_id, "v1")
    before = await get(api, artifact_id)

    message = await api.mutation_error("artifacts:update", {"artifactId": artifact_id, **change})

    assert f"{field}: " in message
    assert await get(api, artifact_id) == before
    assert len(await versions(api, artifact_id)) == 1


@sqlite_only
async def test_update_without_artifactId_is_an_error(api):
    message = await api.mutation_error("artifacts:update", {"status": "final"})

    assert "artifactId: Field required" in message


async def test_get_and_versions_of_an_unknown_artifact_are_null_and_empty(api):
    assert await get(api, UNKNOWN_ARTIFACT) is None
    assert await versions(api, UNKNOWN_ARTIFACT) == []


@sqlite_only
@pytest.mark.parametrize("malformed", ["", "nope", "thr_01m8btg5d9f5zw65yttb51e8w5", "art_"])
async def test_get_and_versions_of_a_malformed_id_are_null_and_empty(api, malformed):
    assert await get(api, malformed) is None
    assert await versions(api, malformed) == []


@sqlite_only
async def test_get_with_a_number_as_id_is_an_error_naming_artifactId(api):
    message = await api.query_error("artifacts:get", {"artifactId": 1})

    assert "artifactId: Input should be a valid string" in message


async def test_list_filters_by_thread_type_and_status_oldest_first(api):
    first = await api.mutation("threads:create", {"title": "1"})
    second = await api.mutation("threads:create", {"title": "2"})
    plan_1 = await create(api, first, type="plan")
    report_1 = await create(api, first, type="report", status="final")
    plan_2 = await create(api, second, type="plan", status="final")

    async def listed(**filters) -> list[str]:
        return [a["_id"] for a in await api.query("artifacts:list", filters)]

    assert await listed() == [plan_1, report_1, plan_2]
    assert await listed(threadId=first) == [plan_1, report_1]
    assert await listed(type="plan") == [plan_1, plan_2]
    assert await listed(status="final") == [report_1, plan_2]
    assert await listed(threadId=first, status="final") == [report_1]
    assert await listed(threadId=second, type="report") == []


async def test_list_of_an_unknown_thread_is_empty(api, thread_id):
    await create(api, thread_id)

    assert await api.query("artifacts:list", {"threadId": UNKNOWN_THREAD}) == []


@sqlite_only
@pytest.mark.parametrize(
    ("args", "field"),
    [({"status": "gone"}, "status"), ({"type": "Plan"}, "type"), ({"kind": "plan"}, "kind")],
)
async def test_list_refuses_bad_filters(api, args, field):
    message = await api.query_error("artifacts:list", args)

    assert f"{field}: " in message
