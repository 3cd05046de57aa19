"""The ingest fast lane (api/ingest.py): plain streamed messages:create calls are served by the
lane, with the same answers and guarantees as the full stack; everything else is left to the full
stack, which answers exactly as it does without the lane."""

from __future__ import annotations

import httpx
import pytest

from api.http import create_api
from api.ingest import IngestFront
from tests.conftest import bearer

UNKNOWN_THREAD = "thr_00000000000000000000000000"


@pytest.fixture
async def lane(database_url):
    front = IngestFront(create_api())
    transport = httpx.ASGITransport(app=front)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        client.front = front
        yield client


@pytest.fixture
async def plain(database_url):
    transport = httpx.ASGITransport(app=create_api())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


def create_body(thread_id: str, **args) -> dict:
    return {
        "path": "messages:create",
        "args": {"threadId": thread_id, "role": "assistant", "content": "hi", **args},
    }


async def test_plain_calls_are_served_by_the_lane_and_stored_in_order(lane, api, thread_id):
    answers = [
        await lane.post(
            "/api/mutation", json=create_body(thread_id, content=f"m{i}"), headers=api.headers
        )
        for i in range(3)
    ]

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(a.json()["status"] == "success" for a in answers)
    assert answers[0].headers["content-type"] == "application/json"
    assert answers[0].headers["x-threadline-worker"].isdigit()
    assert lane.front.served == 3
    stored = await api.query("messages:list", {"threadId": thread_id})
    assert [(m["_id"], m["content"], m["order"]) for m in stored] == [
        (a.json()["value"], f"m{i}", i) for i, a in enumerate(answers)
    ]


async def test_idempotency_key_through_the_lane_replays_the_first_result(lane, api, thread_id):
    headers = {**api.headers, "Idempotency-Key": "stream-1"}
    first = await lane.post("/api/mutation", json=create_body(thread_id), headers=headers)
    again = await lane.post("/api/mutation", json=create_body(thread_id), headers=headers)

    assert first.json()["value"] == again.json()["value"]
    assert len(await api.query("messages:list", {"threadId": thread_id})) == 1


async def test_errors_of_the_write_itself_come_back_as_the_full_stack_words_them(lane, plain, api):
    body = create_body(UNKNOWN_THREAD)
    through_lane = await lane.post("/api/mutation", json=body, headers=api.headers)
    without = await plain.post("/api/mutation", json=body, headers=api.headers)

    assert lane.front.served == 0
    assert through_lane.status_code == without.status_code == 200
    assert through_lane.json() == without.json()
    assert through_lane.json()["errorMessage"] == f"Thread {UNKNOWN_THREAD} not found"


async def test_an_end_user_may_not_post_the_agents_side_through_the_lane(lane, people, api):
    user = bearer(people["user"]["token"])
    own = (
        await lane.post(
            "/api/mutation",
            json={"path": "threads:create", "args": {"title": "mine"}},
            headers=user,
        )
    ).json()["value"]

    refused = await lane.post("/api/mutation", json=create_body(own), headers=user)
    allowed = await lane.post("/api/mutation", json=create_body(own, role="user"), headers=user)

    assert refused.json()["status"] == "error"
    assert "may post messages with role 'user' only" in refused.json()["errorMessage"]
    assert allowed.json()["status"] == "success"


def _raw(body: bytes, headers: dict) -> dict:
    return {"content": body, "headers": {"Content-Type": "application/json", **headers}}


CASES = {
    "unknown field": lambda t: create_body(t, colour="red"),
    "wrong type": lambda t: create_body(t, content=5),
    "bad role": lambda t: create_body(t, role="robot"),
    "NUL in content": lambda t: create_body(t, content="a\x00b"),
    "explicit order": lambda t: create_body(t, order=0),
    "metadata": lambda t: create_body(t, metadata={"k": 1}),
    "not a thread id": lambda t: create_body("nope"),
    "another function": lambda t: {"path": "threads:create", "args": {"title": "x"}},
    "encoded format": lambda t: {**create_body(t), "format": "convex_encoded_json"},
    "args as array": lambda t: {**create_body(t), "args": [create_body(t)["args"]]},
}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", sorted(CASES))
async def test_other_calls_get_the_full_stacks_answer(lane, plain, api, thread_id, case):
    other_thread = await api.mutation("threads:create", {"title": "other"})
    body = CASES[case](thread_id)

    through_lane = await lane.post("/api/mutation", json=body, headers=api.headers)
    # A thread of its own, so that a write through the lane does not change the second answer.
    without = await plain.post("/api/mutation", json=CASES[case](other_thread), headers=api.headers)

    assert through_lane.status_code == without.status_code
    answer, expected = through_lane.json(), without.json()
    if answer.get("status") == "success":  # a new document each time: compare the shape
        assert isinstance(answer["value"], str) and isinstance(expected["value"], str)
    else:
        assert answer == expected
    # Only the plain shape is the lane's; metadata and explicit orders go the full way.
    assert through_lane.headers.get("content-type") == without.headers.get("content-type")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "raw, headers",
    [
        (b"{not json", {}),
        (b'{"path": "messages:create", "args": {"threadId": "\\ud800"}}', {}),
        (b'{"path": "messages:create", "args": {}}', {"Authorization": "Bearer nope"}),
        (b'{"path": "messages:create", "args": {}}', {"Origin": "http://elsewhere.test"}),
    ],
    ids=["bad json", "lone surrogate", "bad credential", "browser origin"],
)
async def test_requests_the_lane_does_not_know_are_answered_by_the_full_stack(
    lane, plain, api, raw, headers
):
    sent = {**api.headers, **headers}
    through_lane = await lane.post("/api/mutation", **_raw(raw, sent))
    without = await plain.post("/api/mutation", **_raw(raw, sent))

    assert lane.front.served == 0
    assert (through_lane.status_code, through_lane.json()) == (without.status_code, without.json())
    assert through_lane.headers.get("access-control-allow-origin") == without.headers.get(
        "access-control-allow-origin"
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_other_paths_pass_through(lane, api, thread_id):
    answer = await lane.post(
        "/api/query",
        json={"path": "messages:list", "args": {"threadId": thread_id}},
        headers=api.headers,
    )
    assert answer.json() == {"status": "success", "value": [], "logLines": []}
    assert (await lane.get("/version")).status_code == 200
    assert lane.front.served == 0


async def test_the_lanes_answers_carry_the_security_headers_of_the_full_stack(lane, api, thread_id):
    """The lane answers in front of api.headers.SecurityHeaders: it adds the same headers
    itself, to its successes and to the errors it words."""
    from api.headers import SecurityHeaders

    full = httpx.ASGITransport(app=SecurityHeaders(create_api()))
    async with httpx.AsyncClient(transport=full, base_url="http://t") as client:
        reference = await client.post(
            "/api/mutation", json={"path": "threads:get", "args": {}}, headers=api.headers
        )
    ok = await lane.post("/api/mutation", json=create_body(thread_id), headers=api.headers)
    refused = await lane.post(
        "/api/mutation", json=create_body(UNKNOWN_THREAD), headers=api.headers
    )

    assert lane.front.served == 1 and refused.json()["status"] == "error"
    names = [
        "content-security-policy",
        "x-frame-options",
        "x-content-type-options",
        "referrer-policy",
    ]
    expected = {name: reference.headers[name] for name in names}
    assert expected["content-security-policy"].startswith("default-src 'none'")
    assert expected["x-content-type-options"] == "nosniff"
    for answer in (ok, refused):
        assert {name: answer.headers.get(name) for name in names} == expected
        assert all(len(answer.headers.get_list(name)) == 1 for name in names)
