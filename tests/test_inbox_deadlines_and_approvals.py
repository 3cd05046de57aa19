"""The inbox's read models with deadlines and the two-person rule: inbox:pending sorts by
deadline (soonest first, then the requests without one, oldest first) and says how many
approvals each has and from whom; inbox:detail's next/previous follow the same order and list
the approvers."""

from __future__ import annotations

import pytest


async def create(api, thread_id: str, **fields) -> str:
    return await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "1. Step", **fields}
    )


@pytest.fixture
def reviewer(as_role):
    return as_role("reviewer")


async def test_pending_sorts_by_deadline_then_oldest_without_one(api, reviewer, thread_id):
    old_plain = await create(api, thread_id)
    late = await create(api, thread_id, timeoutMs=3_600_000)
    new_plain = await create(api, thread_id)
    soon = await create(api, thread_id, timeoutMs=60_000)

    inbox = await reviewer.query("inbox:pending", {})

    assert [r["_id"] for r in inbox["requests"]] == [soon, late, old_plain, new_plain]
    rows = {r["_id"]: r for r in inbox["requests"]}
    assert rows[soon]["expiresTime"] == rows[soon]["_creationTime"] + 60_000
    assert "expiresTime" not in rows[old_plain]


async def test_pending_cut_at_the_limit_keeps_the_soonest_deadlines(api, reviewer, thread_id):
    await create(api, thread_id)
    later = await create(api, thread_id, timeoutMs=7_200_000)
    soon = await create(api, thread_id, timeoutMs=60_000)

    inbox = await reviewer.query("inbox:pending", {"limit": 2})

    assert [r["_id"] for r in inbox["requests"]] == [soon, later]
    assert inbox["count"] == 3


async def test_detail_next_and_previous_follow_the_inbox_order(api, reviewer, thread_id):
    plain = await create(api, thread_id)
    late = await create(api, thread_id, timeoutMs=3_600_000)
    soon = await create(api, thread_id, timeoutMs=60_000)
    order = [soon, late, plain]

    details = [await reviewer.query("inbox:detail", {"approvalRequestId": r}) for r in order]

    assert [d["previousPendingId"] for d in details] == [None, soon, late]
    assert [d["nextPendingId"] for d in details] == [late, plain, None]
    assert [d["firstPendingId"] for d in details] == [late, soon, soon]


async def test_pending_and_detail_show_the_approvals_so_far_and_who_gave_them(
    api, as_role, people, thread_id
):
    request_id = await create(api, thread_id, requiredApprovals=2)
    await as_role("reviewer").mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": "approved", "comment": "ok"},
    )

    row = (await as_role("viewer").query("inbox:pending", {}))["requests"][0]
    detail = await as_role("viewer").query("inbox:detail", {"approvalRequestId": request_id})

    assert (row["approvalCount"], row["requiredApprovals"]) == (1, 2)
    assert row["approverNames"] == ["Reviewer"]
    assert detail["approvalCount"] == 1
    assert detail["approvers"] == [
        {
            "userId": people["reviewer"]["id"],
            "name": "Reviewer",
            "decidedTime": detail["approvals"][0]["decidedTime"],
            "comment": "ok",
            "counts": True,
        }
    ]


async def test_approvals_of_an_earlier_plan_version_are_shown_but_not_counted(
    api, as_role, thread_id
):
    artifact_id = await api.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": "v1"}
    )
    request_id = await create(api, thread_id, requiredApprovals=2, artifactId=artifact_id)
    await as_role("reviewer").mutation(
        "approvalRequests:resolve",
        {"approvalRequestId": request_id, "decision": "approved", "artifactVersion": 1},
    )
    await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": "v2"})

    row = (await as_role("reviewer").query("inbox:pending", {}))["requests"][0]
    detail = await as_role("reviewer").query("inbox:detail", {"approvalRequestId": request_id})

    assert (row["approvalCount"], row["approverNames"]) == (0, [])
    assert detail["approvalCount"] == 0
    assert [(a["name"], a["counts"]) for a in detail["approvers"]] == [("Reviewer", False)]
