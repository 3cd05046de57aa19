"""The two-person rule (approvalRequests:create requiredApprovals): that many different people
must approve; each approval is kept in `approvals`; a rejection or a request for changes by
anyone decides the request; the same person cannot count twice; concurrent approvals are all
counted (across servers: tests/test_scale_out_approvals.py)."""

from __future__ import annotations

import asyncio

import pytest

from api.calls import call
from api.cli import CLI_CALLER
from api.services import signin
from tests.conftest import Api, bearer

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def create(api, thread_id: str, **fields) -> str:
    return await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "1. Step", **fields}
    )


async def get(api, request_id: str) -> dict:
    return await api.query("approvalRequests:get", {"approvalRequestId": request_id})


def decide(person: Api, request_id: str, decision: str = "approved", **fields):
    return person.mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": decision, **fields},
    )


@pytest.fixture
async def reviewers(http, people) -> list[tuple[str, Api]]:
    """Four people who may decide: (user id, Api), the admin and three reviewers."""
    found = [(people["admin"]["id"], Api(http, bearer(people["admin"]["token"])))]
    found.append((people["reviewer"]["id"], Api(http, bearer(people["reviewer"]["token"]))))
    for n in (2, 3):
        email = f"reviewer{n}@example.com"
        user_id = await call(
            "users:create",
            {"email": email, "name": f"Reviewer {n}", "role": "reviewer", "password": "pw-123456"},
            CLI_CALLER,
        )
        token = (await signin.sign_in(email, "pw-123456")).token
        found.append((user_id, Api(http, bearer(token))))
    return found


@sqlite_only
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "requiredApprovals: Input should be greater than or equal to 1"),
        (6, "requiredApprovals: Input should be less than or equal to 5"),
        ("2", "requiredApprovals: Input should be a valid integer"),
    ],
)
async def test_create_refuses_required_approvals_outside_1_to_5(api, thread_id, value, message):
    error = await api.mutation_error(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": "p", "requiredApprovals": value},
    )
    assert message in error


async def test_the_request_stays_pending_until_the_last_of_the_required_approvals(
    api, thread_id, reviewers
):
    (first_id, first), (second_id, second) = reviewers[1], reviewers[2]
    request_id = await create(api, thread_id, requiredApprovals=2)
    assert (await get(api, request_id))["requiredApprovals"] == 2

    await decide(first, request_id, comment="  fine by me  ")
    halfway = await get(api, request_id)
    await decide(second, request_id, comment="ship it")
    done = await get(api, request_id)

    assert halfway["status"] == "pending"
    assert "decidedBy" not in halfway and "decidedTime" not in halfway
    assert halfway["approvals"] == [
        {
            "userId": first_id,
            "decidedTime": halfway["approvals"][0]["decidedTime"],
            "comment": "fine by me",
        }
    ]
    assert done["status"] == "approved"
    assert done["decidedBy"] == second_id
    assert done["comment"] == "ship it"
    assert [a["userId"] for a in done["approvals"]] == [first_id, second_id]
    assert done["decidedTime"] == done["approvals"][1]["decidedTime"]


async def test_a_single_approval_is_kept_in_approvals_too(api, thread_id, reviewers):
    user_id, person = reviewers[1]
    request_id = await create(api, thread_id)

    await decide(person, request_id)

    doc = await get(api, request_id)
    assert doc["status"] == "approved"
    assert [a["userId"] for a in doc["approvals"]] == [user_id]


async def test_the_same_person_cannot_approve_twice(api, thread_id, reviewers):
    _, person = reviewers[1]
    request_id = await create(api, thread_id, requiredApprovals=2)
    await decide(person, request_id)

    error = await person.mutation_error(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )

    assert error == (
        f"You have already approved approval request {request_id}: it needs 2 approvals "
        "from different people (1 so far)"
    )
    doc = await get(api, request_id)
    assert doc["status"] == "pending"
    assert len(doc["approvals"]) == 1


@pytest.mark.parametrize("decision", ["rejected", "changes_requested"])
async def test_a_rejection_or_request_for_changes_by_anyone_decides_at_once(
    api, thread_id, reviewers, decision
):
    (first_id, first), (second_id, second) = reviewers[1], reviewers[2]
    request_id = await create(api, thread_id, requiredApprovals=3)
    await decide(first, request_id)

    await decide(second, request_id, decision, comment="not this")

    doc = await get(api, request_id)
    assert doc["status"] == decision
    assert doc["decidedBy"] == second_id
    assert doc["comment"] == "not this"
    assert [a["userId"] for a in doc["approvals"]] == [first_id]  # the approval given stays
    third_error = await reviewers[3][1].mutation_error(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )
    assert f"is already {decision}" in third_error


async def test_the_person_who_approved_may_still_reject(api, thread_id, reviewers):
    user_id, person = reviewers[1]
    request_id = await create(api, thread_id, requiredApprovals=2)
    await decide(person, request_id)

    await decide(person, request_id, "rejected", comment="found a problem")

    doc = await get(api, request_id)
    assert (doc["status"], doc["decidedBy"]) == ("rejected", user_id)


async def test_an_edited_plan_comes_only_with_the_approval_that_completes_it(
    api, thread_id, reviewers
):
    first, second = reviewers[1][1], reviewers[2][1]
    artifact_id = await api.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": "1. Step"}
    )
    request_id = await create(api, thread_id, requiredApprovals=2, artifactId=artifact_id)

    error = await first.mutation_error(
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": "approved", "editedPlan": "1. Other"},
    )
    await decide(first, request_id)
    await decide(second, request_id, editedPlan="1. Step, carefully")

    assert error.startswith("editedPlan: this approval is 1 of 2; an edited plan comes only")
    doc = await get(api, request_id)
    assert (doc["status"], doc["editedPlan"]) == ("approved", "1. Step, carefully")
    artifact = await api.query("artifacts:get", {"artifactId": artifact_id})
    assert (artifact["content"], artifact["status"]) == ("1. Step, carefully", "approved")


async def test_approvals_of_an_earlier_plan_version_no_longer_count(api, thread_id, reviewers):
    (first_id, first), (second_id, second) = reviewers[1], reviewers[2]
    artifact_id = await api.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": "v1"}
    )
    request_id = await create(api, thread_id, requiredApprovals=2, artifactId=artifact_id)
    await decide(first, request_id, artifactVersion=1)
    await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": "v2"})

    await decide(second, request_id, artifactVersion=2)
    after_change = await get(api, request_id)
    await decide(first, request_id, artifactVersion=2)  # may approve the new version
    done = await get(api, request_id)

    assert after_change["status"] == "pending"
    assert [(a["userId"], a["artifactVersion"]) for a in after_change["approvals"]] == [
        (first_id, 1),
        (second_id, 2),
    ]
    assert done["status"] == "approved"
    assert done["artifactVersion"] == 2
    assert [(a["userId"], a["artifactVersion"]) for a in done["approvals"]] == [
        (first_id, 1),
        (second_id, 2),
        (first_id, 2),
    ]


async def test_concurrent_approvals_are_all_counted(api, thread_id, reviewers):
    request_id = await create(api, thread_id, requiredApprovals=3)

    await asyncio.gather(*(decide(person, request_id) for _, person in reviewers[:3]))

    doc = await get(api, request_id)
    assert doc["status"] == "approved"
    assert sorted(a["userId"] for a in doc["approvals"]) == sorted(u for u, _ in reviewers[:3])


async def test_more_concurrent_approvals_than_required_count_once_each(api, thread_id, reviewers):
    request_id = await create(api, thread_id, requiredApprovals=2)

    results = await asyncio.gather(
        *(decide(person, request_id) for _, person in reviewers), return_exceptions=True
    )

    doc = await get(api, request_id)
    assert doc["status"] == "approved"
    assert len(doc["approvals"]) == 2
    assert sum(result is None for result in results) == 2
    assert doc["decidedBy"] == doc["approvals"][1]["userId"]


async def test_the_same_person_approving_twice_at_once_counts_once(api, thread_id, reviewers):
    _, person = reviewers[1]
    request_id = await create(api, thread_id, requiredApprovals=2)

    results = await asyncio.gather(
        *(decide(person, request_id) for _ in range(4)), return_exceptions=True
    )

    doc = await get(api, request_id)
    assert doc["status"] == "pending"
    assert len(doc["approvals"]) == 1
    assert sum(result is None for result in results) == 1


async def test_only_people_who_decide_may_approve(api, thread_id, as_role):
    request_id = await create(api, thread_id, requiredApprovals=2)

    for caller in (api, as_role("viewer"), as_role("user")):
        error = await caller.mutation_error(
            "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
        )
        assert error.startswith("Not allowed")
    assert (await get(api, request_id))["approvals"] == []


async def test_end_users_cannot_create_requests_with_deadlines_or_approvals(as_role):
    user = as_role("user")
    thread = await user.mutation("threads:create", {"title": "mine"})

    error = await user.mutation_error(
        "approvalRequests:create",
        {"threadId": thread, "planContent": "p", "requiredApprovals": 1, "timeoutMs": 5000},
    )

    assert error.startswith("Not allowed")
