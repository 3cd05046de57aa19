"""Concurrent writers: group commit keeps each mutation atomic, orders stay unique and gap-free,
the first decision wins, idempotent retries apply once, long-polls wake on decisions.

"Same loop" tests go through the HTTP app (one group-commit writer batches them). "Several loops"
tests run writers on separate threads with their own event loops and connections, so that their
transactions really overlap in the database, as several workers' do.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from api.calls import call
from api.db import get_engine
from api.errors import FunctionError
from api.registry import Caller
from api.settings import get_settings
from api.writer import get_writer


def in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` for i in range(count), each in its own thread and event loop."""
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count)

    def runner(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as exc:  # collected for the assertions
            results[index] = exc

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


async def test_concurrent_messages_without_order_get_unique_gap_free_orders(api, thread_id):
    results = await asyncio.gather(
        *[
            api.mutation(
                "messages:create", {"threadId": thread_id, "role": "assistant", "content": f"m{i}"}
            )
            for i in range(100)
        ]
    )
    assert len(set(results)) == 100
    messages = await api.query("messages:list", {"threadId": thread_id})
    assert [m["order"] for m in messages] == list(range(100))
    assert sorted(m["content"] for m in messages) == sorted(f"m{i}" for i in range(100))


async def test_messages_from_several_event_loops_get_unique_gap_free_orders(api, thread_id):
    """Overlapping transactions (as from several workers) still serialize on the thread row."""
    caller = Caller(kind="key", id="key_test", label="loops")

    def post_messages(worker: int) -> list[str]:
        async def run() -> list[str]:
            ids = []
            for i in range(15):
                ids.append(
                    await call(
                        "messages:create",
                        {"threadId": thread_id, "role": "assistant", "content": f"w{worker}-{i}"},
                        caller,
                    )
                )
            return ids

        return asyncio.run(run())

    results = await asyncio.to_thread(in_threads, 4, post_messages)
    assert all(isinstance(r, list) for r in results), results
    messages = await api.query("messages:list", {"threadId": thread_id})
    assert [m["order"] for m in messages] == list(range(60))


async def test_twenty_concurrent_resolves_exactly_one_succeeds(api, as_role, thread_id):
    request_id = await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "# Plan"}
    )
    reviewer, admin = as_role("reviewer"), as_role("admin")
    decisions = ["approved", "rejected", "changes_requested"]
    responses = await asyncio.gather(
        *[
            (reviewer if i % 2 else admin).raw(
                "/api/mutation",
                "approvalRequests:resolve",
                {"approvalRequestId": request_id, "decision": decisions[i % 3], "comment": f"c{i}"},
            )
            for i in range(20)
        ]
    )
    bodies = [r.json() for r in responses]
    winners = [i for i, b in enumerate(bodies) if b["status"] == "success"]
    assert len(winners) == 1
    losers = [b for b in bodies if b["status"] == "error"]
    assert all("the first decision stands" in b["errorMessage"] for b in losers)
    stored = await api.query("approvalRequests:get", {"approvalRequestId": request_id})
    assert stored["status"] == decisions[winners[0] % 3]
    assert stored["comment"] == f"c{winners[0]}"


async def test_resolves_from_several_event_loops_exactly_one_succeeds(api, people, thread_id):
    request_id = await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "# Plan"}
    )
    reviewer = Caller(kind="user", id=people["reviewer"]["id"], role="reviewer", label="r")

    def resolve(index: int) -> str:
        async def run() -> str:
            args = {"approvalRequestId": request_id, "decision": "approved", "comment": str(index)}
            try:
                await call("approvalRequests:resolve", args, reviewer)
                return "won"
            except FunctionError as exc:
                return exc.message

        return asyncio.run(run())

    results = await asyncio.to_thread(in_threads, 8, resolve)
    assert results.count("won") == 1, results
    assert all("first decision stands" in r for r in results if r != "won")


async def test_concurrent_retries_with_one_idempotency_key_apply_once(
    api, http, key_headers, thread_id
):
    body = {
        "path": "messages:create",
        "args": {"threadId": thread_id, "role": "user", "content": "once"},
    }
    headers = {**key_headers, "Idempotency-Key": "retry-1"}
    responses = await asyncio.gather(
        *[http.post("/api/mutation", json=body, headers=headers) for _ in range(10)]
    )
    values = {r.json()["value"] for r in responses}
    assert len(values) == 1
    messages = await api.query("messages:list", {"threadId": thread_id})
    assert [m["content"] for m in messages] == ["once"]


async def test_failing_mutation_in_a_busy_batch_leaves_the_others_applied(api, thread_id):
    """A taken order fails alone: the rest of its batch commits, and it leaves nothing behind."""
    await api.mutation(
        "messages:create", {"threadId": thread_id, "role": "user", "content": "first", "order": 0}
    )
    calls = []
    for i in range(30):
        if i == 15:
            args = {"threadId": thread_id, "role": "user", "content": "duplicate", "order": 0}
        else:
            args = {"threadId": thread_id, "role": "assistant", "content": f"ok{i}"}
        calls.append(api.raw("/api/mutation", "messages:create", args))
    bodies = [r.json() for r in await asyncio.gather(*calls)]
    assert [b["status"] for b in bodies].count("error") == 1
    assert "order 0 is already taken" in bodies[15]["errorMessage"]
    messages = await api.query("messages:list", {"threadId": thread_id})
    contents = [m["content"] for m in messages]
    assert "duplicate" not in contents
    assert len(contents) == 30
    assert [m["order"] for m in messages] == list(range(30))


async def test_batches_really_share_commits(api, thread_id):
    writer = get_writer(get_engine(), get_settings().max_batch)
    before_batches, before_jobs = writer.batches, writer.jobs
    await asyncio.gather(
        *[
            api.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": "x"})
            for _ in range(50)
        ]
    )
    assert writer.jobs - before_jobs == 50
    assert writer.batches - before_batches < 50


async def test_wait_ms_returns_on_decision_not_at_timeout(api, as_role, thread_id):
    request_id = await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "# Plan"}
    )
    waiting = asyncio.create_task(
        api.query("approvalRequests:get", {"approvalRequestId": request_id, "waitMs": 60000})
    )
    await asyncio.sleep(0.2)
    assert not waiting.done()
    await as_role("reviewer").mutation(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )
    # Bounded well below waitMs: it must have woken on the decision, not the timeout.
    decided = await asyncio.wait_for(waiting, timeout=10)
    assert decided["status"] == "approved"


async def test_wait_ms_answers_pending_request_when_time_runs_out(api, thread_id):
    request_id = await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "# Plan"}
    )
    result = await asyncio.wait_for(
        api.query("approvalRequests:get", {"approvalRequestId": request_id, "waitMs": 300}),
        timeout=10,
    )
    assert result["status"] == "pending"


async def test_wait_ms_wakes_on_cancel(api, thread_id):
    request_id = await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "# Plan"}
    )
    waiting = asyncio.create_task(
        api.query("approvalRequests:get", {"approvalRequestId": request_id, "waitMs": 60000})
    )
    await asyncio.sleep(0.1)
    await api.mutation("approvalRequests:cancel", {"approvalRequestId": request_id})
    assert (await asyncio.wait_for(waiting, timeout=10))["status"] == "cancelled"


@pytest.mark.parametrize("wait_ms", [0, 1e9])
async def test_wait_ms_bounds_are_accepted(api, thread_id, wait_ms):
    request_id = await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "# Plan"}
    )
    await api.mutation("approvalRequests:cancel", {"approvalRequestId": request_id})
    result = await asyncio.wait_for(
        api.query("approvalRequests:get", {"approvalRequestId": request_id, "waitMs": wait_ms}),
        timeout=10,
    )
    assert result["status"] == "cancelled"


async def test_grouped_messages_fail_alone_for_unknown_or_malformed_threads(api, thread_id):
    """Calls of one batch run together; a bad one fails alone and leaves nothing behind."""
    other = await api.mutation("threads:create", {"title": "other"})
    targets = [thread_id, "thr_01m8bt9dq0pv4kdfqcc7x4hp4f", other, "not-an-id"] * 10
    bodies = [
        r.json()
        for r in await asyncio.gather(
            *[
                api.raw(
                    "/api/mutation",
                    "messages:create",
                    {"threadId": t, "role": "user", "content": str(i)},
                )
                for i, t in enumerate(targets)
            ]
        )
    ]
    for target, body in zip(targets, bodies, strict=True):
        if target in (thread_id, other):
            assert body["status"] == "success", body
        elif target == "not-an-id":
            assert "threadId is not a valid thread id" in body["errorMessage"]
        else:
            assert body["errorMessage"] == f"Thread {target} not found"
    for tid in (thread_id, other):
        messages = await api.query("messages:list", {"threadId": tid})
        assert [m["order"] for m in messages] == list(range(10))


async def test_grouped_messages_replay_idempotency_keys(api, http, key_headers, thread_id):
    def post(key: str, content: str):
        body = {
            "path": "messages:create",
            "args": {"threadId": thread_id, "role": "user", "content": content},
        }
        return http.post(
            "/api/mutation", json=body, headers={**key_headers, "Idempotency-Key": key}
        )

    first = await asyncio.gather(*[post(f"k{i}", f"c{i}") for i in range(10)])
    again = await asyncio.gather(*[post(f"k{i}", f"other{i}") for i in range(10)])
    assert [r.json()["value"] for r in first] == [r.json()["value"] for r in again]
    messages = await api.query("messages:list", {"threadId": thread_id})
    assert sorted(m["content"] for m in messages) == sorted(f"c{i}" for i in range(10))


async def test_group_falls_back_to_one_by_one_when_the_group_fails(api, thread_id):
    from api.registry import REGISTRY

    spec = REGISTRY["messages:create"]

    grouped_calls = []

    def broken(calls):
        grouped_calls.append(len(calls))
        raise RuntimeError("simulated failure of the grouped path")

    object.__setattr__(spec, "batch", broken)  # FunctionSpec is frozen
    try:
        results = await asyncio.gather(
            *[
                api.mutation(
                    "messages:create", {"threadId": thread_id, "role": "user", "content": str(i)}
                )
                for i in range(20)
            ]
        )
    finally:
        from api.functions.messages import create_many

        object.__setattr__(spec, "batch", create_many)
    assert grouped_calls and max(grouped_calls) > 1  # the grouped path ran, and failed
    assert len(set(results)) == 20
    messages = await api.query("messages:list", {"threadId": thread_id})
    assert [m["order"] for m in messages] == list(range(20))


async def test_end_user_cannot_post_into_another_persons_thread_in_a_group(as_role, api, thread_id):
    user = as_role("user")
    own = await user.mutation("threads:create", {"title": "mine"})
    bodies = [
        r.json()
        for r in await asyncio.gather(
            *[
                user.raw(
                    "/api/mutation",
                    "messages:create",
                    {"threadId": t, "role": "user", "content": "x"},
                )
                for t in [own, thread_id] * 5
            ]
        )
    ]
    assert [b["status"] for b in bodies] == ["success", "error"] * 5
    assert await api.query("messages:list", {"threadId": thread_id}) == []


async def test_idempotency_keys_are_forgotten_after_their_time(
    api, http, key_headers, thread_id, monkeypatch
):
    import api.calls as calls

    body = {
        "path": "messages:create",
        "args": {"threadId": thread_id, "role": "user", "content": "x"},
    }
    headers = {**key_headers, "Idempotency-Key": "old-key"}
    first = (await http.post("/api/mutation", json=body, headers=headers)).json()["value"]
    monkeypatch.setenv("IDEMPOTENCY_TTL_SECONDS", "0")
    get_settings.cache_clear()
    monkeypatch.setattr(calls, "_next_purge", 0.0)
    # This mutation triggers the purge (queued behind it); the next retry is then a new write.
    await api.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": "y"})
    await api.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": "z"})
    again = (await http.post("/api/mutation", json=body, headers=headers)).json()["value"]
    assert again != first
    messages = await api.query("messages:list", {"threadId": thread_id})
    assert [m["content"] for m in messages] == ["x", "y", "z", "x"]
