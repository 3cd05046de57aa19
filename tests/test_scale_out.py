"""Several server processes on one PostgreSQL database and one Redis: writes through one are
visible through the others, orders and first decisions hold across them, and events (decisions,
revoked keys) cross between them through Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import httpx
import pytest

from api.calls import call
from api.cli import CLI_CALLER
from api.services.signin import sign_in
from tests.server_process import ServerProcess

REDIS_URL = os.environ.get("TEST_REDIS_URL")

pytestmark = pytest.mark.postgres


def _redis_ok() -> bool:
    if not REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture
def cluster(request, database_url):
    """Two servers (as two workers would be) on the test's PostgreSQL database and Redis."""
    if not database_url.startswith("postgresql"):
        pytest.skip("scale-out runs on PostgreSQL")
    if not _redis_ok():
        pytest.skip("scale-out tests need TEST_REDIS_URL pointing at a reachable Redis")
    # A channel of its own, so that parallel runs on one Redis do not hear each other.
    env = {"REDIS_URL": REDIS_URL, "REDIS_CHANNEL": f"threadline-test-{uuid.uuid4().hex[:8]}"}
    # A long credential cache, so that only the Redis event can explain a prompt revocation.
    env["AUTH_CACHE_SECONDS"] = "30"
    servers = [ServerProcess(database_url, **env).start() for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
async def credentials(database_url):
    key = (await call("apiKeys:create", {"name": "cluster"}, CLI_CALLER))["key"]
    await call(
        "users:create",
        {"email": "rev@example.com", "name": "Rev", "role": "reviewer", "password": "reviewer-pw"},
        CLI_CALLER,
    )
    token = (await sign_in("rev@example.com", "reviewer-pw")).token
    return {
        "key": {"Authorization": f"Bearer {key}"},
        "reviewer": {"Authorization": f"Bearer {token}"},
    }


async def _call(client: httpx.AsyncClient, endpoint: str, path: str, args: dict, headers: dict):
    response = await client.post(
        f"/api/{endpoint}", json={"path": path, "args": args}, headers=headers
    )
    return response


async def _value(client, endpoint, path, args, headers):
    body = (await _call(client, endpoint, path, args, headers)).json()
    assert body["status"] == "success", body
    return body["value"]


async def test_writes_through_one_server_are_visible_through_the_other(cluster, credentials):
    key = credentials["key"]
    async with (
        httpx.AsyncClient(base_url=cluster[0].url) as a,
        httpx.AsyncClient(base_url=cluster[1].url) as b,
    ):
        thread = await _value(a, "mutation", "threads:create", {"title": "across"}, key)
        assert (await _value(b, "query", "threads:get", {"threadId": thread}, key))[
            "title"
        ] == "across"
        posts = [
            _value(
                client,
                "mutation",
                "messages:create",
                {"threadId": thread, "role": "user", "content": str(i)},
                key,
            )
            for i in range(40)
            for client in (a, b)
        ]
        await asyncio.gather(*posts)
        for client in (a, b):
            messages = await _value(client, "query", "messages:list", {"threadId": thread}, key)
            assert [m["order"] for m in messages] == list(range(80))


async def test_first_decision_wins_across_servers(cluster, credentials):
    key, reviewer = credentials["key"], credentials["reviewer"]
    async with (
        httpx.AsyncClient(base_url=cluster[0].url) as a,
        httpx.AsyncClient(base_url=cluster[1].url) as b,
    ):
        thread = await _value(a, "mutation", "threads:create", {"title": "decide"}, key)
        request = await _value(
            a, "mutation", "approvalRequests:create", {"threadId": thread, "planContent": "p"}, key
        )
        args = {"approvalRequestId": request, "decision": "approved"}
        responses = await asyncio.gather(
            *[
                _call(client, "mutation", "approvalRequests:resolve", args, reviewer)
                for client in (a, b) * 10
            ]
        )
        assert [r.json()["status"] for r in responses].count("success") == 1


async def test_a_decision_on_one_server_wakes_a_long_poll_on_the_other(cluster, credentials):
    key, reviewer = credentials["key"], credentials["reviewer"]
    async with (
        httpx.AsyncClient(base_url=cluster[0].url, timeout=90) as a,
        httpx.AsyncClient(base_url=cluster[1].url, timeout=90) as b,
    ):
        thread = await _value(a, "mutation", "threads:create", {"title": "wait"}, key)
        request = await _value(
            a, "mutation", "approvalRequests:create", {"threadId": thread, "planContent": "p"}, key
        )
        waiting = asyncio.create_task(
            _value(
                b,
                "query",
                "approvalRequests:get",
                {"approvalRequestId": request, "waitMs": 60000},
                key,
            )
        )
        await asyncio.sleep(0.5)  # the poll is registered on server b
        await _value(
            a,
            "mutation",
            "approvalRequests:resolve",
            {"approvalRequestId": request, "decision": "rejected", "comment": "no"},
            reviewer,
        )
        # Well under the 5 s safety re-read: only the Redis event can have woken it this soon.
        decided = await asyncio.wait_for(waiting, timeout=4)
        assert decided["status"] == "rejected"


async def test_a_key_revoked_through_one_server_stops_working_on_the_other(
    cluster, credentials, database_url
):
    async with (
        httpx.AsyncClient(base_url=cluster[0].url) as a,
        httpx.AsyncClient(base_url=cluster[1].url) as b,
    ):
        admin_id = await call(
            "users:create",
            {"email": "adm@example.com", "name": "Adm", "role": "admin", "password": "admin-pw-1"},
            CLI_CALLER,
        )
        assert admin_id
        admin = {
            "Authorization": f"Bearer {(await sign_in('adm@example.com', 'admin-pw-1')).token}"
        }
        created = await _value(a, "mutation", "apiKeys:create", {"name": "doomed"}, admin)
        doomed = {"Authorization": f"Bearer {created['key']}"}
        assert (
            await _call(b, "mutation", "threads:create", {}, doomed)
        ).status_code == 200  # cached on b
        await _value(a, "mutation", "apiKeys:revoke", {"apiKeyId": created["apiKeyId"]}, admin)
        for _ in range(40):  # bounded; far below the 30 s cache
            if (await _call(b, "mutation", "threads:create", {}, doomed)).status_code == 401:
                break
            await asyncio.sleep(0.1)
        assert (await _call(b, "mutation", "threads:create", {}, doomed)).status_code == 401
