"""Webhooks with real processes: the CLI, a server killed in the middle of retrying (the
delivery still arrives, with the same webhook-id), and two workers on PostgreSQL with Redis
(exactly one delivery per event)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import httpx
import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from api.calls import call
from api.cli import CLI_CALLER
from api.db import get_engine
from models import WebhookDelivery
from tests.server_process import ServerProcess
from tests.webhook_receiver import Receiver

REDIS_URL = os.environ.get("TEST_REDIS_URL")


def threadline(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_adds_lists_and_removes_webhooks(sqlite_url):
    added = threadline(
        sqlite_url,
        "webhooks",
        "add",
        "https://hooks.example.com/in",
        "--events",
        "approval.requested,approval.decided",
        "--format",
        "slack",
    )
    assert added.returncode == 0, added.stderr
    lines = added.stdout.strip().splitlines()
    webhook_id = lines[0].split()[1]
    assert webhook_id.startswith("whk_")
    secret = lines[-1]
    assert secret.startswith("whsec_") and len(secret) > 40

    listed = threadline(sqlite_url, "webhooks", "list")
    assert listed.returncode == 0, listed.stderr
    assert webhook_id in listed.stdout
    assert "approval.decided,approval.requested" in listed.stdout
    assert "slack" in listed.stdout
    assert secret not in listed.stdout

    removed = threadline(sqlite_url, "webhooks", "remove", webhook_id)
    assert removed.returncode == 0, removed.stderr
    assert threadline(sqlite_url, "webhooks", "list").stdout.strip() == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "ftp://example.com/"], "only http:// and https:// URLs are accepted"),
        (["add", "https://example.com/", "--events", "nope"], "events.0"),
        (["remove", "whk_00000000000000000000000000"], "not found"),
        (["remove", "nonsense"], "webhookId is not a valid"),
    ],
)
def test_cli_explains_bad_input(sqlite_url, args, message):
    result = threadline(sqlite_url, "webhooks", *args)
    assert result.returncode == 1
    assert message in result.stderr, result.stderr


def delivery_rows() -> list:
    table = WebhookDelivery.__table__
    with get_engine().connect() as conn:
        return conn.execute(sa.select(table)).all()


async def backend_key() -> dict[str, str]:
    key = (await call("apiKeys:create", {"name": "webhooks"}, CLI_CALLER))["key"]
    return {"Authorization": f"Bearer {key}"}


def create_request(server: ServerProcess, headers: dict[str, str]) -> str:
    def value(path: str, args: dict) -> str:
        body = {"path": path, "args": args}
        answer = httpx.post(f"{server.url}/api/mutation", json=body, headers=headers, timeout=30)
        assert answer.json()["status"] == "success", answer.text
        return answer.json()["value"]

    thread_id = value("threads:create", {"title": "webhooks"})
    return value("approvalRequests:create", {"threadId": thread_id, "planContent": "plan"})


# A short attempt limit too: a post in flight when the server is killed is leased for three
# limits plus 5 s (11 s) before the restarted server sends it again.
QUICK_RETRIES = {
    "WEBHOOKS_RETRY_SECONDS": "0.2",
    "WEBHOOKS_POLL_SECONDS": "0.2",
    "WEBHOOKS_TIMEOUT_SECONDS": "2",
}


async def test_a_server_killed_while_retrying_delivers_after_restart(database_url):
    headers = await backend_key()
    with Receiver(statuses=[500] * 10_000) as receiver:
        added = await call("webhooks:add", {"url": receiver.url}, CLI_CALLER)
        server = ServerProcess(database_url, **QUICK_RETRIES).start()
        try:
            request_id = create_request(server, headers)
            receiver.wait_for(2)  # it is retrying
        finally:
            server.kill()  # SIGKILL: no shutdown, in the middle of its retries
        failed = len(receiver.received)
        receiver.statuses.clear()  # the endpoint recovers
        (row,) = delivery_rows()
        assert row.status == "pending" and row.last_status_code == 500

        restarted = ServerProcess(database_url, **QUICK_RETRIES).start()
        try:
            posts = receiver.wait_for(failed + 1, timeout=60)
        finally:
            restarted.stop()
    assert {post.headers["webhook-id"] for post in posts} == {row.id}
    last = posts[-1]
    assert (
        Webhook(added["secret"]).verify(last.body, last.headers)["data"]["approvalRequestId"]
        == request_id
    )
    (row,) = delivery_rows()
    # Every attempt is counted but the one in flight when the server was killed, if any.
    assert row.status == "delivered" and row.attempts in (failed, failed + 1)


async def test_a_server_killed_mid_send_sends_again_with_the_same_id(database_url):
    """Killed while its post hangs (claimed, not yet recorded): the restarted server posts the
    delivery again, with the same webhook-id, once the lease runs out."""
    headers = await backend_key()
    env = QUICK_RETRIES
    with Receiver(hold_first=1) as receiver:
        await call("webhooks:add", {"url": receiver.url}, CLI_CALLER)
        server = ServerProcess(database_url, **env).start()
        try:
            create_request(server, headers)
            receiver.wait_for(1)  # the post is in flight, unanswered
        finally:
            server.kill()
        (row,) = delivery_rows()
        assert row.status == "pending" and row.attempts == 0  # nothing was recorded

        restarted = ServerProcess(database_url, **env).start()
        try:
            first, second = receiver.wait_for(2, timeout=60)
            for _ in range(100):  # until the restarted server has recorded the delivery
                (row,) = delivery_rows()
                if row.status == "delivered":
                    break
                time.sleep(0.1)
        finally:
            restarted.stop()
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == row.id
    assert first.body == second.body
    assert (row.status, row.attempts) == ("delivered", 1)


def _redis_ok() -> bool:
    if not REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.mark.postgres
async def test_two_workers_send_each_event_exactly_once(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("two workers share PostgreSQL")
    if not _redis_ok():
        pytest.skip("needs TEST_REDIS_URL pointing at a reachable Redis")
    headers = await backend_key()
    env = {
        "REDIS_URL": REDIS_URL,
        "REDIS_CHANNEL": f"threadline-test-{uuid.uuid4().hex[:8]}",
        # A long poll: only the after-commit wake-up (through Redis from the worker that wrote)
        # can explain a prompt delivery.
        "WEBHOOKS_POLL_SECONDS": "120",
    }
    with Receiver() as receiver:
        await call("webhooks:add", {"url": receiver.url}, CLI_CALLER)
        servers = [ServerProcess(database_url, **env).start() for _ in range(2)]
        try:
            events = 12
            request_ids = [create_request(servers[n % 2], headers) for n in range(events)]
            receiver.wait_for(events, timeout=60)
            # Both workers run a sender; give a second one every chance to send again.
            extra = create_request(servers[0], headers)
            receiver.wait_for(events + 1, timeout=60)
        finally:
            for server in servers:
                server.stop()
        posts = list(receiver.received)  # everything, up to the servers' end
    ids = [post.headers["webhook-id"] for post in posts]
    assert len(ids) == len(set(ids)) == events + 1
    delivered = {post.json()["data"]["approvalRequestId"] for post in posts}
    assert delivered == {*request_ids, extra}
    rows = delivery_rows()
    assert {(row.status, row.attempts) for row in rows} == {("delivered", 1)}
