"""approvalRequests:claim / unclaim: "I am reviewing this", which lapses after 15 minutes.

The server's clock (what every call's `Context.now` comes from) is moved forward in these tests
instead of waiting: see `clock`.
"""

from __future__ import annotations

import pytest

from api import calls
from api.claims import CLAIM_LAPSE_MS
from api.vocabulary import APPROVALS_CHANGED

MINUTE_MS = 60_000
UNKNOWN = "apr_00000000000000000000000000"


@pytest.fixture
def clock(monkeypatch):
    """clock(ms) moves the server's clock `ms` forward (it keeps running from there)."""
    real = calls.next_creation_time
    offset = [0.0]
    monkeypatch.setattr(calls, "next_creation_time", lambda: real() + offset[0])

    def advance(ms: float) -> None:
        offset[0] += ms

    return advance


@pytest.fixture
async def request_id(api, thread_id) -> str:
    return await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "1. Step"}
    )


def args(request_id: str) -> dict:
    return {"approvalRequestId": request_id}


async def get(api, request_id: str) -> dict:
    return await api.query("approvalRequests:get", args(request_id))


async def test_a_claim_shows_who_is_reviewing_to_everyone(api, as_role, people, request_id):
    assert await as_role("reviewer").mutation("approvalRequests:claim", args(request_id)) is None

    for viewer in (api, as_role("admin"), as_role("viewer")):
        doc = await get(viewer, request_id)
        assert doc["claimedBy"] == people["reviewer"]["id"]
        assert isinstance(doc["claimedTime"], float)
    listed = await as_role("admin").query("approvalRequests:list", {"status": "pending"})
    assert listed[0]["claimedBy"] == people["reviewer"]["id"]
    inbox = await as_role("admin").query("inbox:pending", {})
    assert inbox["requests"][0]["claimedByName"] == "Reviewer"
    detail = await as_role("admin").query("inbox:detail", args(request_id))
    assert (detail["claimedBy"], detail["claimedByName"]) == (people["reviewer"]["id"], "Reviewer")


async def test_a_claim_lapses_after_15_minutes(api, as_role, people, request_id, clock):
    reviewer = as_role("reviewer")
    await reviewer.mutation("approvalRequests:claim", args(request_id))

    clock(CLAIM_LAPSE_MS - MINUTE_MS)
    assert (await get(api, request_id))["claimedBy"] == people["reviewer"]["id"]
    clock(MINUTE_MS)
    doc = await get(api, request_id)
    assert "claimedBy" not in doc and "claimedTime" not in doc
    assert "claimedByName" not in (await reviewer.query("inbox:pending", {}))["requests"][0]
    # Someone else may claim it now.
    await as_role("admin").mutation("approvalRequests:claim", args(request_id))
    assert (await get(api, request_id))["claimedBy"] == people["admin"]["id"]


async def test_claiming_again_renews_the_claim(api, as_role, people, request_id, clock):
    reviewer = as_role("reviewer")
    await reviewer.mutation("approvalRequests:claim", args(request_id))
    clock(10 * MINUTE_MS)
    await reviewer.mutation("approvalRequests:claim", args(request_id))

    clock(10 * MINUTE_MS)

    assert (await get(api, request_id))["claimedBy"] == people["reviewer"]["id"]


async def test_someone_elses_live_claim_refuses_a_claim_naming_them(as_role, people, request_id):
    await as_role("reviewer").mutation("approvalRequests:claim", args(request_id))

    response = await as_role("admin").raw(
        "/api/mutation", "approvalRequests:claim", args(request_id)
    )

    body = response.json()
    assert body["status"] == "error"
    assert body["errorMessage"] == (
        f"Reviewer is already reviewing approval request {request_id}; "
        "their claim lapses in 15 min (you may still decide it)"
    )
    assert body["errorData"]["claimedBy"] == people["reviewer"]["id"]


async def test_a_claim_does_not_stop_anyone_from_deciding(api, as_role, people, request_id):
    await as_role("reviewer").mutation("approvalRequests:claim", args(request_id))

    await as_role("admin").mutation(
        "approvalRequests:resolve", {**args(request_id), "decision": "approved"}
    )

    doc = await get(api, request_id)
    assert (doc["status"], doc["decidedBy"]) == ("approved", people["admin"]["id"])
    assert "claimedBy" not in doc  # a decided request has no one reviewing it


async def test_a_decided_request_cannot_be_claimed(as_role, request_id):
    await as_role("reviewer").mutation(
        "approvalRequests:resolve", {**args(request_id), "decision": "rejected"}
    )

    message = await as_role("reviewer").mutation_error("approvalRequests:claim", args(request_id))

    assert message == (
        f"Approval request {request_id} is already rejected; only a pending request can be claimed"
    )


async def test_unclaim_releases_your_own_claim(api, as_role, request_id):
    reviewer = as_role("reviewer")
    await reviewer.mutation("approvalRequests:claim", args(request_id))

    assert await reviewer.mutation("approvalRequests:unclaim", args(request_id)) is None

    assert "claimedBy" not in await get(api, request_id)
    # Nothing left to release: not an error.
    assert await reviewer.mutation("approvalRequests:unclaim", args(request_id)) is None


async def test_only_the_claimer_or_an_admin_may_release_a_claim(
    api, as_role, people, request_id, http
):
    from api.calls import call
    from api.cli import CLI_CALLER

    await call(
        "users:create",
        {"email": "r2@example.com", "name": "Second", "role": "reviewer", "password": "pw-123456"},
        CLI_CALLER,
    )
    from api.services import signin

    second = (await signin.sign_in("r2@example.com", "pw-123456")).token
    await as_role("reviewer").mutation("approvalRequests:claim", args(request_id))

    message = await as_role("reviewer").mutation_error(
        "approvalRequests:unclaim", args(request_id), headers={"Authorization": f"Bearer {second}"}
    )
    assert message == (
        f"Not allowed: Reviewer is reviewing approval request {request_id}; "
        "only they or an admin may release the claim"
    )
    assert (await get(api, request_id))["claimedBy"] == people["reviewer"]["id"]

    await as_role("admin").mutation("approvalRequests:unclaim", args(request_id))
    assert "claimedBy" not in await get(api, request_id)


@pytest.mark.parametrize("path", ["approvalRequests:claim", "approvalRequests:unclaim"])
@pytest.mark.parametrize("role", ["viewer", "user"])
async def test_only_reviewers_and_admins_claim(as_role, request_id, path, role):
    message = await as_role(role).mutation_error(path, args(request_id))

    assert message == f"Not allowed: a {role} may not call {path}"


@pytest.mark.parametrize("path", ["approvalRequests:claim", "approvalRequests:unclaim"])
async def test_api_keys_cannot_claim(api, request_id, path):
    assert await api.mutation_error(path, args(request_id)) == (
        f"Not allowed: an API key may not call {path}"
    )


async def test_the_cli_caller_cannot_claim_for_nobody(request_id):
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.errors import NotAllowed

    with pytest.raises(NotAllowed, match="only a signed-in reviewer or admin"):
        await call("approvalRequests:claim", args(request_id), CLI_CALLER)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "apr_00000000000000000000000000",
            "Approval request apr_00000000000000000000000000 not found",
        ),
        ("thr_00000000000000000000000000", "approvalRequestId is not a valid approval request id"),
    ],
)
async def test_claim_names_a_bad_request_id(as_role, value, message):
    assert message in await as_role("reviewer").mutation_error(
        "approvalRequests:claim", args(value)
    )


async def test_claims_are_announced_on_the_live_queue(as_role, people, request_id):
    from api.events import bus

    heard: list[dict] = []
    listener = lambda _topic, payload: heard.append(payload)  # noqa: E731
    bus.add_listener(APPROVALS_CHANGED, listener)
    try:
        await as_role("reviewer").mutation("approvalRequests:claim", args(request_id))
        await as_role("reviewer").mutation("approvalRequests:unclaim", args(request_id))
    finally:
        bus.remove_listener(APPROVALS_CHANGED, listener)

    assert [payload.get("claimedBy") for payload in heard] == [people["reviewer"]["id"], None]
    assert all(payload["approvalRequestId"] == request_id for payload in heard)
