"""Approval deadlines (approvalRequests:create timeoutMs): a request still pending at its deadline
becomes `expired` (decidedTime set, no decidedBy), once, by one worker; long-polls wake; the
expiry is audited and notified; it survives a restart of the server (tests/server_process.py).

No timing assertions: each test waits, with a generous bound, for the state it expects."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import sqlalchemy as sa

from api import deadlines
from api.calls import call
from api.cli import CLI_CALLER
from api.db import get_engine
from api.events import bus
from api.functions.approval_requests import expire_due
from api.registry import next_creation_time
from api.settings import get_settings
from api.vocabulary import APPROVALS_CHANGED, SYNC_TOUCHED, approval_topic
from api.writer import get_writer
from models import AuditEntry
from tests.server_process import ServerProcess

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
GENEROUS_SECONDS = 60


async def create(api, thread_id: str, **fields) -> str:
    return await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "1. Step", **fields}
    )


async def get(api, request_id: str) -> dict:
    return await api.query("approvalRequests:get", {"approvalRequestId": request_id})


async def expire_at(now: float) -> list[dict]:
    writer = get_writer(get_engine(), get_settings().max_batch)
    return await writer.submit(lambda conn: expire_due(conn, now))


@sqlite_only
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (999, "timeoutMs: Input should be greater than or equal to 1000"),
        (2_592_000_001, "timeoutMs: Input should be less than or equal to 2592000000"),
        (0, "timeoutMs: Input should be greater than or equal to 1000"),
        (-5, "timeoutMs: Input should be greater than or equal to 1000"),
        ("60000", "timeoutMs: Input should be a valid integer"),
        (1500.5, "timeoutMs: Input should be a valid integer"),
    ],
)
async def test_create_refuses_a_timeout_outside_1000_ms_to_30_days(api, thread_id, value, message):
    error = await api.mutation_error(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": "p", "timeoutMs": value},
    )
    assert message in error


async def test_create_with_a_timeout_stores_the_deadline(api, thread_id):
    request_id = await create(api, thread_id, timeoutMs=60_000)

    doc = await get(api, request_id)

    assert doc["status"] == "pending"
    assert doc["expiresTime"] == doc["_creationTime"] + 60_000


async def test_without_a_timeout_the_request_has_no_deadline_and_never_expires(api, thread_id):
    request_id = await create(api, thread_id)

    assert await expire_at(next_creation_time() + 10**12) == []
    doc = await get(api, request_id)
    assert doc["status"] == "pending"
    assert "expiresTime" not in doc


async def test_a_pending_request_past_its_deadline_expires_once_without_a_decider(
    api, thread_id, database_url
):
    request_id = await create(api, thread_id, timeoutMs=1000)
    heard: list[tuple[str, dict]] = []

    def listener(topic, payload):
        heard.append((topic, payload))

    touched: list[dict] = []
    bus.add_listener(approval_topic("*"), listener)
    bus.add_listener(APPROVALS_CHANGED, listener)

    def on_touched(_topic, payload):
        touched.append(payload)

    bus.add_listener(SYNC_TOUCHED, on_touched)
    try:
        doc = await get(api, request_id)
        assert await expire_at(doc["expiresTime"] - 1) == []  # not yet due
        later = doc["expiresTime"] + 5
        first = await expire_at(later)
        second = await expire_at(later + 1000)
    finally:
        bus.remove_listener(approval_topic("*"), listener)
        bus.remove_listener(APPROVALS_CHANGED, listener)
        bus.remove_listener(SYNC_TOUCHED, on_touched)

    assert first == [{"approvalRequestId": request_id, "threadId": thread_id}]
    assert second == []  # the conditional UPDATE expires it once
    doc = await get(api, request_id)
    assert doc["status"] == "expired"
    assert doc["decidedTime"] == later
    assert "decidedBy" not in doc
    payload = {"approvalRequestId": request_id, "threadId": thread_id, "status": "expired"}
    assert heard == [(approval_topic(request_id), payload), (APPROVALS_CHANGED, payload)]
    # Convex sync subscriptions re-run (the writer's own sync:touched names no module here).
    assert {"touched": [["approvalRequests", thread_id]]} in touched
    audit = AuditEntry.__table__
    with get_engine().connect() as conn:
        entries = conn.execute(
            sa.select(audit.c.actor, audit.c.details).where(
                audit.c.action == "approval.expire", audit.c.target == request_id
            )
        ).all()
    assert [(row.actor, row.details) for row in entries] == [
        ("system:deadlines", {"before": "pending", "after": "expired"})
    ]


async def test_expiry_queues_the_approval_expired_notification(api, thread_id, monkeypatch):
    from api.functions import approval_requests

    sent = []
    monkeypatch.setattr(
        approval_requests,
        "notify",
        lambda session, event_type, data, link: sent.append((event_type, data, link)),
    )
    request_id = await create(api, thread_id, timeoutMs=1000)
    doc = await get(api, request_id)

    await expire_at(doc["expiresTime"] + 1)

    assert (
        "approval.expired",
        {"approvalRequestId": request_id, "threadId": thread_id, "status": "expired"},
        f"/approvals/{request_id}",
    ) in sent


async def test_an_expired_request_can_no_longer_be_decided(api, thread_id, as_role):
    request_id = await create(api, thread_id, timeoutMs=1000)
    doc = await get(api, request_id)
    await expire_at(doc["expiresTime"] + 1)

    error = await as_role("reviewer").mutation_error(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )

    assert f"Approval request {request_id} expired at" in error
    assert "can no longer be decided" in error


async def test_a_decision_after_the_deadline_is_refused_even_before_the_watcher_ran(
    api, thread_id, as_role
):
    request_id = await create(api, thread_id, timeoutMs=1000)
    doc = await get(api, request_id)
    while time.time() * 1000 <= doc["expiresTime"]:
        await asyncio.sleep(0.1)

    error = await as_role("reviewer").mutation_error(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )

    assert "passed its deadline" in error
    assert (await get(api, request_id))["status"] == "pending"


async def test_a_decision_before_the_deadline_stands_and_the_request_does_not_expire(
    api, thread_id, as_role
):
    request_id = await create(api, thread_id, timeoutMs=60_000)
    await as_role("reviewer").mutation(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )

    assert await expire_at(next_creation_time() + 120_000) == []
    assert (await get(api, request_id))["status"] == "approved"


async def test_the_watcher_expires_at_the_deadline_and_wakes_the_long_poll(api, thread_id):
    deadlines.start()
    try:
        request_id = await create(api, thread_id, timeoutMs=1000)

        doc = await asyncio.wait_for(
            api.query("approvalRequests:get", {"approvalRequestId": request_id, "waitMs": 60000}),
            GENEROUS_SECONDS,
        )
    finally:
        await deadlines.stop()

    assert doc["status"] == "expired"
    assert doc["decidedTime"] >= doc["expiresTime"]


async def test_the_watcher_on_start_expires_what_became_overdue_while_it_was_not_running(
    api, thread_id
):
    overdue = await create(api, thread_id, timeoutMs=1000)
    while time.time() * 1000 <= (await get(api, overdue))["expiresTime"]:
        await asyncio.sleep(0.1)
    watcher = deadlines.DeadlineWatcher()

    delay = await watcher.step()

    assert (await get(api, overdue))["status"] == "expired"
    assert watcher.expired == 1
    assert delay == deadlines.RECHECK_SECONDS  # nothing else pending with a deadline


async def test_the_watcher_sleeps_until_the_soonest_pending_deadline(api, thread_id):
    await create(api, thread_id, timeoutMs=20_000)
    await create(api, thread_id, timeoutMs=10_000)
    watcher = deadlines.DeadlineWatcher()

    delay = await watcher.step()

    assert 0 < delay <= 10.1


# ---- a real server, restarted ----------------------------------------------------------------


async def _wait_for_status(client, key, request_id, status, seconds=GENEROUS_SECONDS):
    deadline = time.monotonic() + seconds
    doc = None
    while time.monotonic() < deadline:
        response = await client.post(
            "/api/query",
            json={"path": "approvalRequests:get", "args": {"approvalRequestId": request_id}},
            headers=key,
        )
        doc = response.json()["value"]
        if doc["status"] == status:
            return doc
        await asyncio.sleep(0.2)
    raise AssertionError(f"{request_id} is still {doc and doc['status']}, not {status}")


@sqlite_only
async def test_deadlines_hold_across_a_restart_of_the_server(database_url):
    """Killed before either deadline: the one that passed while it was down expires as soon as
    it is back; the other is scheduled again and expires at its deadline, waking a long-poll."""
    created = await call("apiKeys:create", {"name": "backend"}, CLI_CALLER)
    key = {"Authorization": f"Bearer {created['key']}"}
    server = ServerProcess(database_url).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=90) as client:

            async def mutation(path, args):
                body = (
                    await client.post(
                        "/api/mutation", json={"path": path, "args": args}, headers=key
                    )
                ).json()
                assert body["status"] == "success", body
                return body["value"]

            thread = await mutation("threads:create", {"title": "deadlines"})
            soon = await mutation(
                "approvalRequests:create",
                {"threadId": thread, "planContent": "p", "timeoutMs": 2000},
            )
            later = await mutation(
                "approvalRequests:create",
                {"threadId": thread, "planContent": "p", "timeoutMs": 15_000},
            )
            soon_doc = await _wait_for_status(client, key, soon, "pending", 5)
        server.kill()
        while time.time() * 1000 <= soon_doc["expiresTime"] + 200:  # it passes while down
            await asyncio.sleep(0.1)
        server = ServerProcess(database_url).start()
        async with httpx.AsyncClient(base_url=server.url, timeout=90) as client:
            expired = await _wait_for_status(client, key, soon, "expired")
            assert expired["decidedTime"] > soon_doc["expiresTime"]
            assert "decidedBy" not in expired
            waited = await client.post(
                "/api/query",
                json={
                    "path": "approvalRequests:get",
                    "args": {"approvalRequestId": later, "waitMs": 60000},
                },
                headers=key,
            )
            doc = waited.json()["value"]
            if doc["status"] == "pending":  # the long-poll may have ended at 60 s on a slow box
                doc = await _wait_for_status(client, key, later, "expired")
            assert doc["status"] == "expired"
            assert doc["decidedTime"] >= doc["expiresTime"]
    finally:
        server.stop()


async def test_the_watcher_writes_nothing_while_nothing_is_due(api, thread_id):
    await create(api, thread_id, timeoutMs=60_000)
    writer = get_writer(get_engine(), get_settings().max_batch)
    before = writer.jobs

    await deadlines.DeadlineWatcher().step()

    assert writer.jobs == before
