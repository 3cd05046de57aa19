"""Deadlines and the two-person rule with two servers on one PostgreSQL database and one Redis:
each request is expired by one server only (one audit entry, one event), a long-poll on either
server wakes on the expiry, and two reviewers approving at once through different servers are
both counted."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import sqlalchemy as sa

from api.calls import call
from api.cli import CLI_CALLER
from api.db import get_engine
from api.services.signin import sign_in
from models import AuditEntry, WebhookDelivery
from tests.test_scale_out import _call, _value, cluster, credentials  # noqa: F401

pytestmark = pytest.mark.postgres
GENEROUS_SECONDS = 60


async def _wait_all(client, key, request_ids, status):
    deadline = time.monotonic() + GENEROUS_SECONDS
    docs = []
    while time.monotonic() < deadline:
        docs = [
            await _value(client, "query", "approvalRequests:get", {"approvalRequestId": r}, key)
            for r in request_ids
        ]
        if all(doc["status"] == status for doc in docs):
            return docs
        await asyncio.sleep(0.2)
    raise AssertionError(f"not all {status}: {[doc['status'] for doc in docs]}")


async def test_each_request_expires_once_across_servers(cluster, credentials):  # noqa: F811
    key = credentials["key"]
    # An endpoint for approval.expired: each expiry queues exactly one delivery to it.
    await call(
        "webhooks:add",
        {"url": "http://127.0.0.1:9/hook", "events": ["approval.expired"]},
        CLI_CALLER,
    )
    async with (
        httpx.AsyncClient(base_url=cluster[0].url, timeout=90) as a,
        httpx.AsyncClient(base_url=cluster[1].url, timeout=90) as b,
    ):
        thread = await _value(a, "mutation", "threads:create", {"title": "expire"}, key)
        requests = [
            await _value(
                client,
                "mutation",
                "approvalRequests:create",
                {"threadId": thread, "planContent": f"p{i}", "timeoutMs": 1000},
                key,
            )
            for i in range(10)
            for client in (a, b)
        ]
        # A long-poll on each server, on a request created through the other.
        polls = [
            asyncio.create_task(
                _value(
                    client,
                    "query",
                    "approvalRequests:get",
                    {"approvalRequestId": request, "waitMs": 60000},
                    key,
                )
            )
            for client, request in ((b, requests[0]), (a, requests[1]))
        ]
        docs = await _wait_all(a, key, requests, "expired")
        woken = await asyncio.wait_for(asyncio.gather(*polls), GENEROUS_SECONDS + 30)

    assert [doc["status"] for doc in woken] == ["expired", "expired"]
    assert all("decidedBy" not in doc for doc in docs)
    audit = AuditEntry.__table__
    with get_engine().connect() as conn:
        per_request = dict(
            conn.execute(
                sa.select(audit.c.target, sa.func.count())
                .where(audit.c.action == "approval.expire")
                .group_by(audit.c.target)
            ).all()
        )
        deliveries = conn.execute(
            sa.select(WebhookDelivery.__table__.c.data).where(
                WebhookDelivery.__table__.c.event_type == "approval.expired"
            )
        ).scalars()
        notified = sorted(data["approvalRequestId"] for data in deliveries)
    assert per_request == dict.fromkeys(requests, 1)
    assert notified == sorted(requests)


async def test_two_reviewers_approving_at_once_through_two_servers_are_both_counted(
    cluster,  # noqa: F811
    credentials,  # noqa: F811
):
    key, first = credentials["key"], credentials["reviewer"]
    await call(
        "users:create",
        {"email": "rev2@example.com", "name": "Rev 2", "role": "reviewer", "password": "rev2-pw-1"},
        CLI_CALLER,
    )
    second = {"Authorization": f"Bearer {(await sign_in('rev2@example.com', 'rev2-pw-1')).token}"}
    async with (
        httpx.AsyncClient(base_url=cluster[0].url, timeout=90) as a,
        httpx.AsyncClient(base_url=cluster[1].url, timeout=90) as b,
    ):
        thread = await _value(a, "mutation", "threads:create", {"title": "two"}, key)
        for required in (2, 3):
            requests = [
                await _value(
                    a,
                    "mutation",
                    "approvalRequests:create",
                    {"threadId": thread, "planContent": "p", "requiredApprovals": required},
                    key,
                )
                for _ in range(10)
            ]
            await asyncio.gather(
                *(
                    _value(
                        client,
                        "mutation",
                        "approvalRequests:resolve",
                        {"approvalRequestId": request, "decision": "approved"},
                        person,
                    )
                    for request in requests
                    for client, person in ((a, first), (b, second))
                )
            )
            for request in requests:
                doc = await _value(
                    b, "query", "approvalRequests:get", {"approvalRequestId": request}, key
                )
                assert len(doc["approvals"]) == 2, doc
                assert len({approval["userId"] for approval in doc["approvals"]}) == 2
                assert doc["status"] == ("approved" if required == 2 else "pending")
