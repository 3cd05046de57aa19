"""approvalRequests:create/get/list/resolve/cancel: a person decides on an agent's plan.

Who may resolve (people, never an API key) is checked in full in test_permissions.py.
"""

from __future__ import annotations

import asyncio

import pytest

from api.functions.approval_requests import GetArgs, _wait

UNKNOWN_THREAD = "thr_00000000000000000000000000"
UNKNOWN_REQUEST = "apr_00000000000000000000000000"
UNKNOWN_ARTIFACT = "art_00000000000000000000000000"
# Argument validation happens before any database work: checked on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def request(api, thread_id: str, plan: str = "1. Do the thing", **fields) -> str:
    return await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": plan, **fields}
    )


async def get(api, request_id: str) -> dict | None:
    return await api.query("approvalRequests:get", {"approvalRequestId": request_id})


async def plan_artifact(api, thread_id: str, content: str = "1. Do the thing") -> str:
    return await api.mutation(
        "artifacts:create",
        {"threadId": thread_id, "type": "plan", "content": content, "status": "pending_review"},
    )


async def test_create_makes_a_pending_request_and_get_answers_the_document(api, thread_id):
    request_id = await request(api, thread_id, "# Plan\n1. Step")

    doc = await get(api, request_id)

    assert request_id.startswith("apr_")
    assert doc == {
        "_id": request_id,
        "_creationTime": doc["_creationTime"],
        "threadId": thread_id,
        "planContent": "# Plan\n1. Step",
        "status": "pending",
        "requiredApprovals": 1,
        "approvals": [],
    }
    assert isinstance(doc["_creationTime"], float)


async def test_create_links_an_artifact_of_the_same_thread(api, thread_id):
    artifact_id = await plan_artifact(api, thread_id)

    request_id = await request(api, thread_id, artifactId=artifact_id)

    assert (await get(api, request_id))["artifactId"] == artifact_id


async def test_create_refuses_an_artifact_of_another_thread(api, thread_id):
    other = await api.mutation("threads:create", {"title": "other"})
    artifact_id = await plan_artifact(api, other)

    message = await api.mutation_error(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": "p", "artifactId": artifact_id},
    )

    assert message == f"artifactId: artifact {artifact_id} belongs to another thread"
    assert await api.query("approvalRequests:list", {}) == []


async def test_create_refuses_an_unknown_artifact(api, thread_id):
    message = await api.mutation_error(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": "p", "artifactId": UNKNOWN_ARTIFACT},
    )

    assert message == f"Artifact {UNKNOWN_ARTIFACT} not found"
    assert await api.query("approvalRequests:list", {}) == []


async def test_create_in_an_unknown_thread_is_an_error(api):
    message = await api.mutation_error(
        "approvalRequests:create", {"threadId": UNKNOWN_THREAD, "planContent": "p"}
    )

    assert message == f"Thread {UNKNOWN_THREAD} not found"


@sqlite_only
@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"threadId": "nope"}, None, "threadId is not a valid thread id: 'nope'"),
        ({"artifactId": "nope"}, None, "artifactId is not a valid artifact id: 'nope'"),
        ({"planContent": None}, "planContent", "valid string"),
        ({"planContent": ["1", "2"]}, "planContent", "valid string"),
        ({"status": "approved"}, "status", "unknown field"),
    ],
)
async def test_create_refuses_bad_arguments_and_stores_nothing(
    api, thread_id, change, field, problem
):
    message = await api.mutation_error(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "p", **change}
    )

    if field is not None:
        assert f"{field}: " in message
    assert problem in message
    assert await api.query("approvalRequests:list", {}) == []


@sqlite_only
@pytest.mark.parametrize("missing", ["threadId", "planContent"])
async def test_create_without_a_required_field_is_an_error_naming_it(api, thread_id, missing):
    args = {"threadId": thread_id, "planContent": "p"}
    del args[missing]

    assert f"{missing}: Field required" in await api.mutation_error("approvalRequests:create", args)


async def test_get_unknown_request_is_null(api):
    assert await get(api, UNKNOWN_REQUEST) is None


@sqlite_only
@pytest.mark.parametrize("malformed", ["", "apr_", "thr_01m8btg5d9f5zw65yttb51e8w5", "x" * 80])
async def test_get_malformed_id_is_null(api, malformed):
    assert await get(api, malformed) is None


async def test_reviewer_approves_and_the_decision_is_recorded(api, as_role, people, thread_id):
    request_id = await request(api, thread_id)

    result = await as_role("reviewer").mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": "approved", "comment": "  Looks good  "},
    )

    assert result is None
    doc = await get(api, request_id)
    assert doc["status"] == "approved"
    assert doc["decidedBy"] == people["reviewer"]["id"]
    assert doc["comment"] == "Looks good"
    assert isinstance(doc["decidedTime"], float)
    assert doc["decidedTime"] >= doc["_creationTime"]
    assert "editedPlan" not in doc


async def test_admin_can_reject_or_ask_for_changes(api, as_role, people, thread_id):
    for decision in ("rejected", "changes_requested"):
        request_id = await request(api, thread_id)

        await as_role("admin").mutation(
            "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": decision}
        )

        doc = await get(api, request_id)
        assert (doc["status"], doc["decidedBy"]) == (decision, people["admin"]["id"])
        assert "comment" not in doc


async def test_the_first_decision_stands(api, as_role, people, thread_id):
    request_id = await request(api, thread_id)
    await as_role("reviewer").mutation(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )

    response = await as_role("admin").raw(
        "/api/mutation",
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": "rejected"},
    )

    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "error"
    assert body["errorMessage"] == (
        f"Approval request {request_id} is already approved by Reviewer; the first decision stands"
    )
    assert body["errorData"] == {"status": "approved", "decidedBy": people["reviewer"]["id"]}
    doc = await get(api, request_id)
    assert (doc["status"], doc["decidedBy"]) == ("approved", people["reviewer"]["id"])


async def test_edited_plan_is_kept_with_an_approval(api, as_role, thread_id):
    request_id = await request(api, thread_id, "1. Original")

    await as_role("reviewer").mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": "approved", "editedPlan": "1. Edited"},
    )

    doc = await get(api, request_id)
    assert doc["editedPlan"] == "1. Edited"
    assert doc["planContent"] == "1. Original"


@sqlite_only
async def test_edited_plan_with_a_rejection_is_an_error_and_decides_nothing(
    api, as_role, thread_id
):
    request_id = await request(api, thread_id)

    message = await as_role("reviewer").mutation_error(
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": "rejected", "editedPlan": "x"},
    )

    # CONTRACT.md "Additions": editedPlan goes with approved or changes_requested, never rejected.
    assert message == (
        "editedPlan cannot be given with the decision 'rejected': send it with 'approved' "
        "(the plan that will run) or 'changes_requested' (a suggested revision)"
    )
    assert (await get(api, request_id))["status"] == "pending"


async def test_edited_plan_with_changes_requested_is_kept_as_a_suggestion(api, as_role, thread_id):
    artifact_id = await plan_artifact(api, thread_id, "1. Original")
    request_id = await request(api, thread_id, "1. Original", artifactId=artifact_id)

    await as_role("reviewer").mutation(
        "approvalRequests:resolve",
        {
            "approvalRequestId": request_id,
            "decision": "changes_requested",
            "editedPlan": "1. Try this instead",
        },
    )

    doc = await get(api, request_id)
    assert (doc["status"], doc["editedPlan"], doc["planContent"]) == (
        "changes_requested",
        "1. Try this instead",
        "1. Original",
    )
    # A suggestion is not the plan: the artifact goes back to draft with its content unchanged.
    artifact = await api.query("artifacts:get", {"artifactId": artifact_id})
    assert (artifact["content"], artifact["version"], artifact["status"]) == (
        "1. Original",
        1,
        "draft",
    )


async def test_resolve_sets_the_linked_artifacts_status(api, as_role, thread_id):
    statuses = {}
    for decision in ("approved", "rejected", "changes_requested"):
        artifact_id = await plan_artifact(api, thread_id)
        request_id = await request(api, thread_id, artifactId=artifact_id)

        await as_role("reviewer").mutation(
            "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": decision}
        )

        artifact = await api.query("artifacts:get", {"artifactId": artifact_id})
        statuses[decision] = (artifact["status"], artifact["version"])

    assert statuses == {
        "approved": ("approved", 1),
        "rejected": ("rejected", 1),
        "changes_requested": ("draft", 1),
    }


async def test_resolve_with_an_edited_plan_makes_a_new_artifact_version(
    api, as_role, people, thread_id
):
    artifact_id = await plan_artifact(api, thread_id, "1. Original")
    request_id = await request(api, thread_id, "1. Original", artifactId=artifact_id)

    await as_role("reviewer").mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": "approved", "editedPlan": "1. Better"},
    )

    artifact = await api.query("artifacts:get", {"artifactId": artifact_id})
    assert (artifact["content"], artifact["version"], artifact["status"]) == (
        "1. Better",
        2,
        "approved",
    )
    versions = await api.query("artifacts:versions", {"artifactId": artifact_id})
    assert [(v["version"], v["content"], v["status"]) for v in versions] == [
        (1, "1. Original", "pending_review"),
        (2, "1. Better", "approved"),
    ]
    assert versions[1]["createdBy"] == f"user:{people['reviewer']['id']}"


async def test_resolve_writes_an_approval_decide_audit_entry(api, as_role, people, thread_id):
    request_id = await request(api, thread_id)

    await as_role("reviewer").mutation(
        "approvalRequests:resolve",
        {
            "approvalRequestId": request_id,
            "decision": "approved",
            "comment": "ok",
            "editedPlan": "1. Edited",
        },
    )

    entries = await as_role("admin").query(
        "auditLog:list",
        {"paginationOpts": {"numItems": 10, "cursor": None}, "action": "approval.decide"},
    )
    (entry,) = entries["page"]
    assert entry["target"] == request_id
    assert entry["actor"] == f"user:{people['reviewer']['id']}"
    assert entry["actorLabel"] == people["reviewer"]["email"]
    assert entry["details"] == {
        "before": "pending",
        "after": "approved",
        "comment": "ok",
        "edited": True,
    }


async def test_a_refused_decision_writes_no_audit_entry(api, as_role, thread_id):
    request_id = await request(api, thread_id)
    await api.mutation("approvalRequests:cancel", {"approvalRequestId": request_id})

    await as_role("reviewer").mutation_error(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )

    entries = await as_role("admin").query(
        "auditLog:list",
        {"paginationOpts": {"numItems": 10, "cursor": None}, "action": "approval.decide"},
    )
    assert entries["page"] == []


async def test_resolve_unknown_request_is_an_error(as_role):
    message = await as_role("reviewer").mutation_error(
        "approvalRequests:resolve", {"approvalRequestId": UNKNOWN_REQUEST, "decision": "approved"}
    )

    assert message == f"Approval request {UNKNOWN_REQUEST} not found"


@sqlite_only
@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (
            {"approvalRequestId": "apr_1", "decision": "approved"},
            "approvalRequestId is not a valid approval request id: 'apr_1'",
        ),
        ({"approvalRequestId": UNKNOWN_REQUEST, "decision": "maybe"}, "decision: "),
        ({"approvalRequestId": UNKNOWN_REQUEST, "decision": "cancelled"}, "decision: "),
        ({"approvalRequestId": UNKNOWN_REQUEST, "decision": "pending"}, "decision: "),
        ({"approvalRequestId": UNKNOWN_REQUEST}, "decision: Field required"),
        ({"decision": "approved"}, "approvalRequestId: Field required"),
        (
            {"approvalRequestId": UNKNOWN_REQUEST, "decision": "approved", "comment": 1},
            "comment: ",
        ),
        (
            {"approvalRequestId": UNKNOWN_REQUEST, "decision": "approved", "by": "me"},
            "by: unknown field",
        ),
    ],
)
async def test_resolve_refuses_bad_arguments(as_role, args, problem):
    assert problem in await as_role("reviewer").mutation_error("approvalRequests:resolve", args)


async def test_cancel_withdraws_a_pending_request(api, thread_id):
    request_id = await request(api, thread_id)

    assert await api.mutation("approvalRequests:cancel", {"approvalRequestId": request_id}) is None

    doc = await get(api, request_id)
    assert doc["status"] == "cancelled"
    assert isinstance(doc["decidedTime"], float)
    assert "decidedBy" not in doc


async def test_cancel_of_a_decided_request_is_an_error_and_keeps_the_decision(
    api, as_role, thread_id
):
    request_id = await request(api, thread_id)
    await as_role("reviewer").mutation(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "rejected"}
    )

    message = await api.mutation_error("approvalRequests:cancel", {"approvalRequestId": request_id})

    assert message == (
        f"Approval request {request_id} is already rejected by Reviewer; the first decision stands"
    )
    assert (await get(api, request_id))["status"] == "rejected"


async def test_cancel_twice_is_an_error_the_second_time(api, thread_id):
    request_id = await request(api, thread_id)
    await api.mutation("approvalRequests:cancel", {"approvalRequestId": request_id})

    message = await api.mutation_error("approvalRequests:cancel", {"approvalRequestId": request_id})

    assert (
        message == f"Approval request {request_id} is already cancelled; the first decision stands"
    )


async def test_a_cancelled_request_cannot_be_resolved(api, as_role, thread_id):
    artifact_id = await plan_artifact(api, thread_id)
    request_id = await request(api, thread_id, artifactId=artifact_id)
    await api.mutation("approvalRequests:cancel", {"approvalRequestId": request_id})

    message = await as_role("admin").mutation_error(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )

    assert "is already cancelled" in message
    assert (await get(api, request_id))["status"] == "cancelled"
    artifact = await api.query("artifacts:get", {"artifactId": artifact_id})
    assert artifact["status"] == "pending_review"


async def test_cancel_unknown_request_is_an_error(api):
    message = await api.mutation_error(
        "approvalRequests:cancel", {"approvalRequestId": UNKNOWN_REQUEST}
    )

    assert message == f"Approval request {UNKNOWN_REQUEST} not found"


@sqlite_only
async def test_cancel_malformed_id_is_an_error_naming_approvalRequestId(api, thread_id):
    message = await api.mutation_error("approvalRequests:cancel", {"approvalRequestId": thread_id})

    assert message == f"approvalRequestId is not a valid approval request id: {thread_id!r}"


async def test_list_filters_by_status_and_thread_oldest_first(api, as_role):
    first = await api.mutation("threads:create", {"title": "1"})
    second = await api.mutation("threads:create", {"title": "2"})
    a = await request(api, first)
    b = await request(api, second)
    c = await request(api, first)
    await as_role("reviewer").mutation(
        "approvalRequests:resolve", {"approvalRequestId": b, "decision": "approved"}
    )

    async def listed(**filters) -> list[str]:
        return [r["_id"] for r in await api.query("approvalRequests:list", filters)]

    assert await listed() == [a, b, c]
    assert await listed(status="pending") == [a, c]
    assert await listed(status="approved") == [b]
    assert await listed(threadId=first) == [a, c]
    assert await listed(threadId=second, status="pending") == []


@sqlite_only
@pytest.mark.parametrize(
    ("args", "field"), [({"status": "open"}, "status"), ({"state": "pending"}, "state")]
)
async def test_list_refuses_bad_filters(api, args, field):
    assert f"{field}: " in await api.query_error("approvalRequests:list", args)


async def test_get_with_waitMs_answers_once_the_request_is_decided(api, as_role, thread_id):
    request_id = await request(api, thread_id)
    waiting = asyncio.create_task(
        api.query("approvalRequests:get", {"approvalRequestId": request_id, "waitMs": 30_000})
    )
    await asyncio.sleep(0.05)  # let the long-poll start listening

    await as_role("reviewer").mutation(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )

    doc = await waiting
    assert doc["status"] == "approved"


async def test_get_with_waitMs_on_a_decided_request_answers_the_decision(api, thread_id):
    request_id = await request(api, thread_id)
    await api.mutation("approvalRequests:cancel", {"approvalRequestId": request_id})

    doc = await api.query(
        "approvalRequests:get", {"approvalRequestId": request_id, "waitMs": 60_000}
    )

    assert doc["status"] == "cancelled"


async def test_get_with_waitMs_answers_the_pending_request_when_the_wait_is_over(api, thread_id):
    request_id = await request(api, thread_id)

    doc = await api.query("approvalRequests:get", {"approvalRequestId": request_id, "waitMs": 20})

    assert doc["status"] == "pending"


async def test_get_with_waitMs_on_an_unknown_request_is_null(api):
    assert (
        await api.query(
            "approvalRequests:get", {"approvalRequestId": UNKNOWN_REQUEST, "waitMs": 60_000}
        )
        is None
    )


def test_waitMs_above_a_minute_counts_as_a_minute():
    _topic, seconds, _settled = _wait(GetArgs(approvalRequestId=UNKNOWN_REQUEST, waitMs=10**9))

    assert seconds == 60.0


@sqlite_only
@pytest.mark.parametrize("wait", [-1, "10", [5]])
async def test_get_refuses_a_bad_waitMs(api, wait):
    message = await api.query_error(
        "approvalRequests:get", {"approvalRequestId": UNKNOWN_REQUEST, "waitMs": wait}
    )

    assert "waitMs: " in message


# ---- decisions bound to the version the reviewer saw (issue 9, item 5) -------------------------


async def resolve_seen(reviewer, request_id: str, seen: int, decision: str = "approved"):
    args = {"approvalRequestId": request_id, "decision": decision, "artifactVersion": seen}
    if decision != "approved":
        args["comment"] = "why"
    return args


async def test_resolve_refuses_a_decision_on_a_version_the_artifact_has_moved_past(
    api, as_role, thread_id
):
    artifact_id = await plan_artifact(api, thread_id, "1. Original")
    request_id = await request(api, thread_id, "1. Original", artifactId=artifact_id)
    await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": "1. Sneaky"})
    reviewer = as_role("reviewer")

    message = await reviewer.mutation_error(
        "approvalRequests:resolve", await resolve_seen(reviewer, request_id, 1)
    )

    assert "version 2" in message and "you saw version 1" in message
    assert (await get(api, request_id))["status"] == "pending"
    artifact = await api.query("artifacts:get", {"artifactId": artifact_id})
    assert artifact["status"] == "pending_review"


async def test_the_decided_request_records_the_version_it_was_decided_on(api, as_role, thread_id):
    artifact_id = await plan_artifact(api, thread_id, "1. Original")
    request_id = await request(api, thread_id, "1. Original", artifactId=artifact_id)
    await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": "1. Second"})
    reviewer = as_role("reviewer")

    await reviewer.mutation("approvalRequests:resolve", await resolve_seen(reviewer, request_id, 2))

    doc = await get(api, request_id)
    assert (doc["status"], doc["artifactVersion"]) == ("approved", 2)


async def test_resolve_without_artifact_version_records_the_current_one(api, as_role, thread_id):
    artifact_id = await plan_artifact(api, thread_id)
    request_id = await request(api, thread_id, artifactId=artifact_id)

    await as_role("reviewer").mutation(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )

    assert (await get(api, request_id))["artifactVersion"] == 1


async def test_artifact_version_on_a_request_without_an_artifact_is_refused(
    api, as_role, thread_id
):
    request_id = await request(api, thread_id)
    reviewer = as_role("reviewer")

    message = await reviewer.mutation_error(
        "approvalRequests:resolve", await resolve_seen(reviewer, request_id, 1)
    )

    assert message == f"artifactVersion: approval request {request_id} has no linked artifact"


async def test_an_approved_artifact_whose_content_changes_is_a_draft_again(api, as_role, thread_id):
    artifact_id = await plan_artifact(api, thread_id, "1. Original")
    request_id = await request(api, thread_id, "1. Original", artifactId=artifact_id)
    reviewer = as_role("reviewer")
    await reviewer.mutation("approvalRequests:resolve", await resolve_seen(reviewer, request_id, 1))

    await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": "1. Rewritten"})

    artifact = await api.query("artifacts:get", {"artifactId": artifact_id})
    assert (artifact["version"], artifact["status"]) == (2, "draft")
    versions = await api.query("artifacts:versions", {"artifactId": artifact_id})
    assert [(v["version"], v["status"]) for v in versions] == [(1, "pending_review"), (2, "draft")]
