"""Webhooks: endpoints (admins only, URL rules), the outbox written with the change, Standard
Webhooks signatures checked by a receiver on loopback, retries with the same webhook-id, giving
up after 24 hours, the Slack format and the deep link from PUBLIC_URL."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from api.calls import call
from api.cli import CLI_CALLER
from api.db import get_engine
from api.settings import get_settings
from api.webhook_sender import Sender, backoff_seconds
from api.webhooks import is_public, signed_headers, slack_message
from models import WebhookDelivery
from tests.webhook_receiver import Receiver

HOUR_MS = 3600 * 1000.0


@pytest.fixture
def public_url(monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://review.example.com/")
    get_settings.cache_clear()
    return "https://review.example.com"


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


async def add_endpoint(url: str, **args) -> dict:
    return await call("webhooks:add", {"url": url, **args}, CLI_CALLER)


async def create_request(api, thread_id: str) -> str:
    return await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "1. rm -rf build/"}
    )


def delivery_rows() -> list:
    table = WebhookDelivery.__table__
    with get_engine().connect() as conn:
        return conn.execute(sa.select(table).order_by(table.c.creation_time)).all()


# The published test vector of Standard Webhooks (the spec repository's and its libraries' tests).
def test_signature_matches_the_standard_webhooks_test_vector():
    headers = signed_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        '{"test": 2432232314}',
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


async def test_approval_requested_is_delivered_signed_with_the_deep_link(
    api, thread_id, receiver, public_url
):
    added = await add_endpoint(receiver.url)
    assert added["secret"].startswith("whsec_")
    assert len(base64.b64decode(added["secret"].removeprefix("whsec_"))) == 32
    request_id = await create_request(api, thread_id)

    assert await Sender().deliver_due() == 1

    (post,) = receiver.received
    # Verified with the maintained library (it checks the timestamp is recent, too).
    payload = Webhook(added["secret"]).verify(post.body, post.headers)
    assert payload["type"] == "approval.requested"
    assert payload["data"] == {
        "approvalRequestId": request_id,
        "threadId": thread_id,
        "status": "pending",
        "url": f"{public_url}/approvals/{request_id}",
    }
    assert datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
    assert post.headers["webhook-id"].startswith("whm_")
    assert post.headers["content-type"] == "application/json"
    (row,) = delivery_rows()
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 200)
    assert row.id == post.headers["webhook-id"]
    # Nothing more to send.
    assert await Sender().deliver_due() == 0


async def test_a_signature_made_with_another_secret_is_refused_by_the_receiver_check(
    api, thread_id, receiver
):
    await add_endpoint(receiver.url)
    await create_request(api, thread_id)
    await Sender().deliver_due()
    (post,) = receiver.received
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(other).verify(post.body, post.headers)


async def test_decisions_and_cancellations_are_notified_as_approval_decided(
    api, thread_id, receiver, as_role, people
):
    await add_endpoint(receiver.url, events=["approval.decided"])
    first = await create_request(api, thread_id)
    second = await create_request(api, thread_id)
    await as_role("reviewer").mutation(
        "approvalRequests:resolve", {"approvalRequestId": first, "decision": "approved"}
    )
    await api.mutation("approvalRequests:cancel", {"approvalRequestId": second})
    await Sender().deliver_due()
    bodies = sorted((post.json() for post in receiver.received), key=lambda b: b["data"]["status"])
    assert [b["type"] for b in bodies] == ["approval.decided", "approval.decided"]
    assert [b["data"]["status"] for b in bodies] == ["approved", "cancelled"]
    assert bodies[0]["data"]["decidedBy"] == people["reviewer"]["id"]
    assert bodies[0]["data"]["approvalRequestId"] == first


async def test_only_subscribed_endpoints_get_an_outbox_row(api, thread_id, receiver):
    await add_endpoint(receiver.url, events=["approval.decided"])
    everything = await add_endpoint(receiver.url + "/all")
    await create_request(api, thread_id)
    rows = delivery_rows()
    assert [(row.endpoint_id, row.event_type) for row in rows] == [
        (everything["webhookId"], "approval.requested")
    ]


async def test_a_refused_mutation_queues_nothing(api, thread_id, receiver, as_role):
    await add_endpoint(receiver.url)
    request_id = await create_request(api, thread_id)
    reviewer = as_role("reviewer")
    args = {"approvalRequestId": request_id, "decision": "rejected"}
    await reviewer.mutation("approvalRequests:resolve", args)
    # The second decision is refused: its outbox row rolls back with it.
    assert "already rejected" in await reviewer.mutation_error("approvalRequests:resolve", args)
    assert [row.event_type for row in delivery_rows()] == [
        "approval.requested",
        "approval.decided",
    ]


async def test_a_retry_after_a_500_keeps_the_same_webhook_id(api, thread_id, public_url):
    with Receiver(statuses=[500]) as receiver:
        added = await add_endpoint(receiver.url)
        await create_request(api, thread_id)
        sender = Sender()
        (row,) = delivery_rows()
        await sender.deliver_due(now=row.creation_time + 1)

        (failed,) = delivery_rows()
        assert (failed.status, failed.attempts, failed.last_status_code) == ("pending", 1, 500)
        assert failed.last_error == "HTTP 500: receiver says no"
        assert failed.next_attempt_time == pytest.approx(
            row.creation_time + 1 + backoff_seconds(1) * 1000
        )
        # Not due yet: nothing is sent.
        assert await sender.deliver_due(now=failed.next_attempt_time - 1) == 0
        assert await sender.deliver_due(now=failed.next_attempt_time) == 1

        first, second = receiver.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == row.id
        assert first.body == second.body
        Webhook(added["secret"]).verify(second.body, second.headers)
        (done,) = delivery_rows()
        assert (done.status, done.attempts, done.last_error) == ("delivered", 2, None)
        assert done.next_attempt_time is None


def test_backoff_doubles_from_the_first_retry_and_is_capped_at_an_hour():
    first = get_settings().webhooks_retry_seconds
    assert [backoff_seconds(n) for n in (1, 2, 3)] == [first, 2 * first, 4 * first]
    assert backoff_seconds(40) == 3600


async def test_a_delivery_that_keeps_failing_is_marked_failed_after_24_hours(api, thread_id):
    with Receiver(statuses=[503] * 100) as receiver:
        await add_endpoint(receiver.url)
        await create_request(api, thread_id)
        sender = Sender()
        (row,) = delivery_rows()
        attempts = 0
        while (current := delivery_rows()[0]).status == "pending":
            await sender.deliver_due(now=current.next_attempt_time)
            attempts += 1
            assert attempts < 100
        assert current.status == "failed"
        assert current.next_attempt_time is None
        assert current.last_attempt_time <= row.creation_time + 24 * HOUR_MS
        # Exponential backoff to an hour: about thirty tries in a day, never more after.
        assert 20 <= current.attempts <= 40
        assert len(receiver.received) == current.attempts
        assert {post.headers["webhook-id"] for post in receiver.received} == {row.id}
        assert await sender.deliver_due(now=row.creation_time + 48 * HOUR_MS) == 0


async def test_an_unreachable_endpoint_records_the_connection_error(api, thread_id):
    with Receiver() as receiver:
        url = receiver.url
    await add_endpoint(url)  # nothing listens there any more
    await create_request(api, thread_id)
    await Sender().deliver_due()
    (row,) = delivery_rows()
    assert row.status == "pending" and row.attempts == 1
    assert row.last_status_code is None
    assert row.last_error.startswith("ConnectError")


async def test_slack_format_posts_a_readable_message_with_the_deep_link(
    api, thread_id, receiver, public_url
):
    await add_endpoint(receiver.url, format="slack")
    request_id = await create_request(api, thread_id)
    await Sender().deliver_due()
    (post,) = receiver.received
    assert "webhook-signature" not in post.headers
    message = post.json()
    link = f"{public_url}/approvals/{request_id}"
    assert message["text"] == f"A plan is waiting for approval — {request_id}\nOpen: {link}"
    section = message["blocks"][0]["text"]["text"]
    assert f"<{link}|{request_id}>" in section
    assert message["blocks"][-1]["elements"][0]["url"] == link


def test_slack_text_from_data_cannot_make_links_or_mentions():
    message = slack_message(
        "toolCall.outsidePlan",
        {"toolCallId": "tc_1", "toolName": "<!channel> <https://evil|x>", "url": "https://a/b"},
    )
    context = message["blocks"][1]["elements"][0]["text"]
    assert "&lt;!channel&gt;" in context and "<!channel>" not in context


async def test_the_test_event_goes_to_that_endpoint_alone(receiver, database_url):
    one = await add_endpoint(receiver.url)
    await add_endpoint(receiver.url + "/other")
    delivery_id = await call("webhooks:test", {"webhookId": one["webhookId"]}, CLI_CALLER)
    await Sender().deliver_due()
    (post,) = receiver.received
    assert post.path == "/hooks"
    assert post.headers["webhook-id"] == delivery_id
    body = Webhook(one["secret"]).verify(post.body, post.headers)
    assert body["type"] == "webhook.test"
    assert body["data"]["webhookId"] == one["webhookId"]
    log = await call("webhooks:deliveries", {"webhookId": one["webhookId"]}, CLI_CALLER)
    assert [(d["_id"], d["status"], d["attempts"]) for d in log] == [(delivery_id, "delivered", 1)]
    assert log[0]["endpointUrl"] == receiver.url


async def test_list_never_shows_the_secret_and_counts_pending_and_failed(api, thread_id, receiver):
    added = await add_endpoint(receiver.url, description="ops channel")
    await create_request(api, thread_id)
    (listed,) = await call("webhooks:list", {}, CLI_CALLER)
    assert listed["_id"] == added["webhookId"]
    assert "secret" not in listed and added["secret"] not in json.dumps(listed)
    assert (listed["url"], listed["format"], listed["description"]) == (
        receiver.url,
        "standard",
        "ops channel",
    )
    assert (listed["pending"], listed["failed"]) == (1, 0)


async def test_remove_stops_deliveries_and_is_audited(api, thread_id, receiver):
    added = await add_endpoint(receiver.url)
    await create_request(api, thread_id)
    await call("webhooks:remove", {"webhookId": added["webhookId"]}, CLI_CALLER)
    assert await Sender().deliver_due() == 0
    assert receiver.received == [] and delivery_rows() == []
    assert await call("webhooks:list", {}, CLI_CALLER) == []
    from models import AuditEntry

    table = AuditEntry.__table__
    with get_engine().connect() as conn:
        actions = [row.action for row in conn.execute(sa.select(table.c.action))]
    assert "webhook.add" in actions and "webhook.remove" in actions
    with pytest.raises(Exception, match="not found"):
        await call("webhooks:remove", {"webhookId": added["webhookId"]}, CLI_CALLER)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "url: only http:// and https:// URLs are accepted"),
        ("file:///etc/passwd", "url: only http:// and https:// URLs are accepted"),
        ("javascript:alert(1)", "url: only http:// and https:// URLs are accepted"),
        ("https://", "url: the URL has no host"),
        ("example.com/hooks", "url: only http:// and https:// URLs are accepted"),
        ("https://exa mple.com/", "url: must not contain spaces or control characters"),
        ("http://example.com:99999/", "url: not a valid URL"),
        ("", "url: give the endpoint's URL"),
    ],
)
async def test_bad_urls_are_refused_with_a_clear_message(api, as_role, url, message):
    error = await as_role("admin").mutation_error("webhooks:add", {"url": url})
    assert error.startswith(message), error


@pytest.mark.parametrize(
    "args",
    [
        {"url": "https://example.com/", "format": "teams"},
        {"url": "https://example.com/", "events": ["approval.maybe"]},
        {"url": "https://example.com/", "events": []},
    ],
)
async def test_bad_formats_and_events_are_refused(as_role, args):
    error = await as_role("admin").mutation_error("webhooks:add", args)
    assert error.startswith("Invalid arguments for webhooks:add")


@pytest.mark.parametrize("role", ["reviewer", "viewer", "user"])
async def test_only_admins_manage_webhooks(as_role, role):
    caller = as_role(role)
    for path, args in (
        ("webhooks:add", {"url": "https://example.com/"}),
        ("webhooks:remove", {"webhookId": "whk_00000000000000000000000000"}),
        ("webhooks:test", {"webhookId": "whk_00000000000000000000000000"}),
    ):
        assert "Not allowed" in await caller.mutation_error(path, args)
    for path in ("webhooks:list", "webhooks:deliveries"):
        assert "Not allowed" in await caller.query_error(path, {})


async def test_backends_cannot_manage_webhooks(api):
    assert "Not allowed" in await api.mutation_error(
        "webhooks:add", {"url": "https://example.com/"}
    )
    assert "Not allowed" in await api.query_error("webhooks:list", {})


async def test_an_admin_adds_lists_and_removes_through_the_api(as_role):
    admin = as_role("admin")
    added = await admin.mutation(
        "webhooks:add",
        {"url": " https://hooks.example.com/t ", "format": "slack", "events": ["approval.expired"]},
    )
    (listed,) = await admin.query("webhooks:list", {})
    assert (listed["url"], listed["format"], listed["events"]) == (
        "https://hooks.example.com/t",
        "slack",
        ["approval.expired"],
    )
    assert listed["createdBy"].startswith("user:")
    await admin.mutation("webhooks:remove", {"webhookId": added["webhookId"]})
    assert await admin.query("webhooks:list", {}) == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
    ],
)
def test_which_addresses_count_as_public(address, public):
    assert is_public(address) is public


@pytest.fixture
def refuse_private(monkeypatch):
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", "false")
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "http://[::1]/hooks",
        "http://169.254.169.254/latest/meta-data",
        "https://10.0.0.5/",
    ],
)
async def test_private_addresses_are_refused_when_the_setting_says_so(as_role, refuse_private, url):
    error = await as_role("admin").mutation_error("webhooks:add", {"url": url})
    assert "non-public address" in error and "WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=false" in error


async def test_a_host_that_turns_private_after_it_was_added_is_refused_at_send_time(
    api, thread_id, receiver, monkeypatch
):
    # Added while allowed (as a name that later resolves to loopback would be), then the
    # deployment refuses private addresses: the send checks again and does not connect.
    await add_endpoint(receiver.url)
    await create_request(api, thread_id)
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", "false")
    get_settings.cache_clear()
    await Sender().deliver_due()
    assert receiver.received == []
    (row,) = delivery_rows()
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error.startswith("refused: 127.0.0.1 resolves to 127.0.0.1")


async def test_a_public_address_is_connected_to_as_checked(monkeypatch):
    """With private addresses refused, the send goes to the address that was checked, with the
    URL's host in Host (and as the TLS server name), so DNS cannot change it in between."""
    import httpx

    from api import webhook_sender
    from api.webhook_sender import Claimed, attempt

    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", "false")
    get_settings.cache_clear()

    async def resolve(_url):
        return ["93.184.216.34"]

    monkeypatch.setattr("api.webhooks.resolve", resolve)
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["url"] = str(request.url)
        seen["host"] = request.headers["host"]
        seen["sni"] = request.extensions.get("sni_hostname")
        return httpx.Response(204)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    row = Claimed(
        id="whm_x",
        endpoint_id="whk_x",
        url="https://hooks.example.com:8443/in?a=1",
        format="slack",
        secret="whsec_" + base64.b64encode(b"k" * 32).decode(),
        body="{}",
        attempts=0,
        creation_time=0,
    )
    outcome = await attempt(client, row)
    assert outcome.delivered and outcome.status_code == 204
    assert seen == {
        "url": "https://93.184.216.34:8443/in?a=1",
        "host": "hooks.example.com:8443",
        "sni": "hooks.example.com",
    }
    assert webhook_sender  # the module under test


def test_timestamps_are_utc_iso():
    from api.webhooks import iso

    assert iso(0) == "1970-01-01T00:00:00Z"
    assert datetime.fromisoformat(iso(1_700_000_000_000)) == datetime.fromtimestamp(
        1_700_000_000, tz=UTC
    )


async def test_the_running_sender_is_woken_by_the_commit_not_the_poll(
    api, thread_id, receiver, monkeypatch
):
    import asyncio

    from api import webhook_sender

    monkeypatch.setenv("WEBHOOKS_POLL_SECONDS", "300")  # the poll alone would wait 5 minutes
    get_settings.cache_clear()
    await add_endpoint(receiver.url)
    async with webhook_sender.running() as sender:
        for _ in range(1000):  # until it has looked at the (empty) outbox and sleeps
            if sender.waiting:
                break
            await asyncio.sleep(0.01)
        assert sender.waiting
        request_id = await create_request(api, thread_id)
        for _ in range(1000):
            if receiver.received:
                break
            await asyncio.sleep(0.01)
    (post,) = receiver.received
    assert post.json()["data"]["approvalRequestId"] == request_id


async def test_messages_create_never_touches_the_webhook_tables(api, thread_id, receiver):
    """The ingest hot path: with endpoints registered, storing messages queries no webhook
    table (only the approval functions notify)."""
    await add_endpoint(receiver.url)
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    engine = get_engine()
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        for n in range(3):
            await api.mutation(
                "messages:create", {"threadId": thread_id, "role": "assistant", "content": f"{n}"}
            )
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert statements, "the listener saw the writes"
    assert not [s for s in statements if "webhook" in s.lower()]


async def test_settled_deliveries_are_pruned_after_the_retention_period(api, thread_id, receiver):
    from api.webhook_sender import prune_log
    from api.writer import get_writer

    await add_endpoint(receiver.url)
    await create_request(api, thread_id)  # delivered below
    await Sender().deliver_due()
    await create_request(api, thread_id)  # still pending: never pruned
    delivered, pending = delivery_rows()
    writer = get_writer(get_engine(), get_settings().max_batch)
    later = pending.creation_time + 1
    assert await writer.submit(lambda conn: (prune_log(conn, later), [])) == 1
    assert [row.id for row in delivery_rows()] == [pending.id]
    assert delivered.status == "delivered"


async def test_the_audit_log_names_the_host_not_the_whole_url(database_url):
    from models import AuditEntry

    secret_url = "https://hooks.slack.com/services/T000/B000/very-secret-token"
    added = await add_endpoint(secret_url, format="slack")
    await call("webhooks:remove", {"webhookId": added["webhookId"]}, CLI_CALLER)
    table = AuditEntry.__table__
    with get_engine().connect() as conn:
        details = [row.details for row in conn.execute(sa.select(table.c.details))]
    assert "very-secret-token" not in json.dumps(details)
    assert {"host": "hooks.slack.com", "format": "slack", "events": None} in [
        d.get("after") for d in details
    ]
