"""threadline_client against a real Threadline API: every typed helper, awaited calls and their
errors, approvals.wait, the async flavour, the example backend, and the import without the
server's packages. Background sending is tested in test_client_sending.py."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.client_support import BOUND, FAST, SUCCESS, StubServer, running_server
from threadline_client import (
    AsyncThreadline,
    FunctionError,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Threadline,
    ThreadlineError,
    Unauthenticated,
    async_resources,
    resources,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server(sqlite_url):
    with running_server() as running:
        yield running


@pytest.fixture
def client(server):
    return server.client()


@pytest.fixture
def reviewer(server):
    """A client holding a reviewer's session token (approvals are decided by people)."""
    return server.client(api_key=server.person("reviewer"))


# -- typed helpers -----------------------------------------------------------------------------


def test_threads_helpers(client):
    thread_id = client.threads.create(
        title="Refund #4411", user_id="customer-7", metadata={"channel": "web"}
    )
    thread = client.threads.get(thread_id)
    assert thread["title"] == "Refund #4411"
    assert thread["userId"] == "customer-7"
    assert thread["metadata"] == {"channel": "web"}
    assert thread["status"] == "active"

    other_id = client.threads.create()
    page = client.threads.list(num_items=1)
    assert [t["_id"] for t in page["page"]] == [other_id]  # newest first
    assert page["isDone"] is False
    rest = client.threads.list(num_items=10, cursor=page["continueCursor"])
    assert [t["_id"] for t in rest["page"]] == [thread_id]
    assert [t["_id"] for t in client.threads.list(search="refund")["page"]] == [thread_id]
    assert client.threads.list(user_id="customer-7")["page"][0]["_id"] == thread_id

    client.threads.update(thread_id, title="Refund #4411 (done)", status="archived", metadata={})
    thread = client.threads.get(thread_id)
    assert (thread["title"], thread["status"], thread["metadata"]) == (
        "Refund #4411 (done)",
        "archived",
        {},
    )
    assert [t["_id"] for t in client.threads.list(status="archived")["page"]] == [thread_id]

    client.threads.remove(thread_id)
    assert client.threads.get(thread_id) is None


def test_messages_helpers(client):
    thread_id = client.threads.create(title="Messages")
    first = client.messages.create(thread_id, "user", "Hello", metadata={"lang": "en"})
    client.messages.create(thread_id, "assistant", "Hi")
    client.messages.create(thread_id, "system", "Later", order=10)
    client.messages.post_create(thread_id, "tool", "posted")
    assert client.flush(BOUND)

    messages = client.messages.list(thread_id)
    assert [(m["role"], m["content"], m["order"]) for m in messages] == [
        ("user", "Hello", 0),
        ("assistant", "Hi", 1),
        ("system", "Later", 10),
        ("tool", "posted", 11),
    ]
    assert messages[0]["_id"] == first
    assert messages[0]["metadata"] == {"lang": "en"}

    page = client.messages.list(thread_id, num_items=2)
    assert [m["content"] for m in page["page"]] == ["posted", "Later"]
    rest = client.messages.list(thread_id, num_items=2, cursor=page["continueCursor"])
    assert [m["content"] for m in rest["page"]] == ["Hi", "Hello"]

    with pytest.raises(FunctionError, match="order 10 is already taken"):
        client.messages.create(thread_id, "user", "clash", order=10)


def test_artifacts_helpers(client):
    thread_id = client.threads.create(title="Artifacts")
    plan_id = client.artifacts.create(thread_id, "plan", "# Plan v1", title="Plan")
    plan = client.artifacts.get(plan_id)
    assert (plan["type"], plan["title"], plan["status"], plan["version"]) == (
        "plan",
        "Plan",
        "draft",
        1,
    )

    client.artifacts.update(plan_id, content="# Plan v2")
    client.artifacts.update(plan_id, status="pending_review", title="The plan")
    plan = client.artifacts.get(plan_id)
    assert (plan["content"], plan["status"], plan["version"], plan["title"]) == (
        "# Plan v2",
        "pending_review",
        2,
        "The plan",
    )
    versions = client.artifacts.versions(plan_id)
    assert [(v["version"], v["content"]) for v in versions] == [(1, "# Plan v1"), (2, "# Plan v2")]

    report_id = client.artifacts.create(thread_id, "report", "Done.", status="final")
    assert [a["_id"] for a in client.artifacts.list(thread_id=thread_id)] == [plan_id, report_id]
    assert [a["_id"] for a in client.artifacts.list(type="report")] == [report_id]
    assert [a["_id"] for a in client.artifacts.list(status="pending_review")] == [plan_id]
    page = client.artifacts.list(thread_id=thread_id, num_items=1)
    assert [a["_id"] for a in page["page"]] == [report_id]
    assert client.artifacts.get("art_does_not_exist") is None


def test_sessions_helpers(client):
    thread_id = client.threads.create(title="Sessions")
    assert client.sessions.get(thread_id) is None
    session_id = client.sessions.upsert(
        thread_id, sdk_session_id="sdk-1", phase="planning", state={"step": 1}
    )
    assert client.sessions.upsert(thread_id, plan="1. look") == session_id
    client.sessions.post_upsert(thread_id, phase="executing")
    assert client.flush(BOUND)
    session = client.sessions.get(thread_id)
    assert session["_id"] == session_id
    assert (session["sdkSessionId"], session["phase"], session["plan"], session["state"]) == (
        "sdk-1",
        "executing",
        "1. look",
        {"step": 1},
    )


def test_tool_calls_helpers(client):
    thread_id = client.threads.create(title="Tools")
    call_id = client.tool_calls.record(
        thread_id, "search", {"q": "refund"}, status="started", tool_call_id="call-1"
    )
    again = client.tool_calls.record(
        thread_id,
        "search",
        {"q": "refund"},
        output={"hits": 3},
        status="succeeded",
        tool_call_id="call-1",
        duration_ms=12.5,
    )
    assert again == call_id
    client.tool_calls.record(thread_id, "clock", None)  # input is required, even when null
    client.tool_calls.post_record(thread_id, "lookup", {"id": 7}, tool_call_id="call-2")
    client.tool_calls.post_record(
        thread_id, "lookup", {"id": 7}, output="x", status="failed", tool_call_id="call-2"
    )
    assert client.flush(BOUND)

    calls = client.tool_calls.list(thread_id)
    assert [(c["toolName"], c["status"]) for c in calls] == [
        ("search", "succeeded"),
        ("clock", "started"),
        ("lookup", "failed"),
    ]
    assert calls[0]["output"] == {"hits": 3}
    assert calls[0]["durationMs"] == 12.5
    assert calls[1].get("input") is None
    page = client.tool_calls.list(thread_id, num_items=1)
    assert [c["toolName"] for c in page["page"]] == ["lookup"]


def test_approvals_helpers(client, reviewer):
    thread_id = client.threads.create(title="Approvals")
    plan_id = client.artifacts.create(thread_id, "plan", "1. refund", status="pending_review")
    request_id = client.approvals.create(thread_id, "1. refund", artifact_id=plan_id)
    request = client.approvals.get(request_id)
    assert (request["status"], request["planContent"], request["artifactId"]) == (
        "pending",
        "1. refund",
        plan_id,
    )
    assert [r["_id"] for r in client.approvals.list(status="pending")] == [request_id]
    assert client.approvals.list(thread_id=thread_id, num_items=5)["page"][0]["_id"] == request_id

    with pytest.raises(FunctionError, match="Not allowed"):
        client.approvals.resolve(request_id, "approved")  # an API key may not decide
    reviewer.approvals.resolve(request_id, "approved", comment="fine", edited_plan="1. refund $5")
    decided = client.approvals.get(request_id)
    assert (decided["status"], decided["comment"], decided["editedPlan"]) == (
        "approved",
        "fine",
        "1. refund $5",
    )
    assert client.artifacts.get(plan_id)["status"] == "approved"

    second = client.approvals.create(thread_id, "2. close the ticket")
    client.approvals.cancel(second)
    assert client.approvals.get(second)["status"] == "cancelled"
    assert client.approvals.get("apr_unknown") is None


def test_planned_tool_calls_and_claims(client, reviewer, server):
    thread_id = client.threads.create(title="Drift")
    request_id = client.approvals.create(
        thread_id,
        "1. look it up",
        planned_tool_calls=[{"toolName": "lookup", "input": {"order": 7}}],
    )
    assert client.approvals.get(request_id)["plannedToolCalls"] == [
        {"toolName": "lookup", "input": {"order": 7}}
    ]

    reviewer.approvals.claim(request_id)
    assert client.approvals.get(request_id)["claimedBy"].startswith("usr_")
    reviewer.approvals.unclaim(request_id)
    assert "claimedBy" not in client.approvals.get(request_id)

    reviewer.approvals.resolve(request_id, "approved")
    inside = client.tool_calls.record(thread_id, "lookup", {"order": 7})
    outside = client.tool_calls.record(thread_id, "refund", {"order": 7})
    flags = {c["_id"]: c["outsidePlan"] for c in client.tool_calls.list(thread_id)}
    assert flags == {inside: False, outside: True}


async def test_async_planned_tool_calls_and_claims(server):
    reviewer_token = server.person("reviewer")
    async with (
        AsyncThreadline(server.url, server.api_key, **FAST) as client,
        AsyncThreadline(server.url, reviewer_token, **FAST) as person,
    ):
        thread_id = await client.threads.create(title="Async drift")
        request_id = await client.approvals.create(
            thread_id, "plan", planned_tool_calls=[{"toolName": "lookup"}]
        )
        await person.approvals.claim(request_id)
        assert (await client.approvals.get(request_id))["claimedBy"]
        await person.approvals.unclaim(request_id)
        await person.approvals.resolve(request_id, "approved")
        call_id = await client.tool_calls.record(thread_id, "refund", {})
        assert (await client.tool_calls.list(thread_id))[0]["_id"] == call_id
        assert (await client.tool_calls.list(thread_id))[0]["outsidePlan"] is True


# -- awaited calls: values and errors ----------------------------------------------------------


def test_function_error_carries_the_message_and_data(client):
    thread_id = client.threads.create(title="Errors")
    request_id = client.approvals.create(thread_id, "plan")
    client.approvals.cancel(request_id)
    with pytest.raises(FunctionError) as caught:
        client.approvals.cancel(request_id)
    assert caught.value.message == str(caught.value)
    assert "already cancelled" in caught.value.message
    assert caught.value.data == {"status": "cancelled", "decidedBy": None}
    assert caught.value.path == "approvalRequests:cancel"
    assert isinstance(caught.value, ThreadlineError)

    with pytest.raises(FunctionError, match="threadId is not a valid thread id"):
        client.messages.create("not-an-id", "user", "x")
    with pytest.raises(FunctionError, match="Could not find public function"):
        client.query("nothing:here")


def test_generic_mutation_and_query(client):
    thread_id = client.mutation("threads:create", {"title": "Raw"}, idempotency_key="once-only")
    assert client.mutation("threads:create", {"title": "Raw"}, idempotency_key="once-only") == (
        thread_id
    )
    assert client.query("threads:get", {"threadId": thread_id})["title"] == "Raw"


def test_unknown_api_key_raises_unauthenticated(server):
    client = server.client(api_key="tl_not_a_real_key")
    with pytest.raises(Unauthenticated) as caught:
        client.threads.create(title="x")
    assert caught.value.status_code == 401


def test_body_over_the_limit_raises_payload_too_large(server, client, monkeypatch):
    from api.settings import get_settings

    thread_id = client.threads.create(title="Big")
    monkeypatch.setenv("MAX_BODY_BYTES", "2000")
    get_settings.cache_clear()
    with pytest.raises(PayloadTooLarge) as caught:
        client.messages.create(thread_id, "user", "x" * 5000)
    assert caught.value.status_code == 413


def test_rate_limited_and_server_errors_are_retried_then_raised():
    with StubServer(lambda _request: (429, {"Retry-After": "0"}, {"code": "x"})) as stub:
        client = Threadline(stub.url, "key", call_retries=2, **FAST)
        with pytest.raises(RateLimited) as caught:
            client.query("threads:get", {"threadId": "t"})
        assert caught.value.retry_after == 0
        assert len(stub.requests) == 3
        client.close(0)

    with StubServer(lambda _request: (503, {}, {"code": "Unavailable", "message": "db"})) as stub:
        client = Threadline(stub.url, "key", call_retries=1, **FAST)
        with pytest.raises(ServerError, match="db") as caught:
            client.mutation("threads:create", {})
        assert caught.value.status_code == 503
        client.close(0)


def test_a_retried_mutation_keeps_its_idempotency_key():
    replies = iter([(503, {"Retry-After": "0"}, {}), (502, {}, {}), SUCCESS, SUCCESS])
    with StubServer(lambda _request: next(replies)) as stub:
        client = Threadline(stub.url, "key", **FAST)
        client.mutation("threads:create", {"title": "a"})
        client.mutation("threads:create", {"title": "b"})
        client.close(0)
    keys = [request["headers"]["idempotency-key"] for request in stub.requests]
    assert len(keys) == 4
    assert keys[0] == keys[1] == keys[2] != keys[3]
    assert stub.requests[0]["headers"]["authorization"] == "Bearer key"
    assert stub.requests[0]["body"] == {
        "path": "threads:create",
        "args": {"title": "a"},
        "format": "json",
    }


def test_queries_carry_no_idempotency_key():
    with StubServer(lambda _request: SUCCESS) as stub:
        client = Threadline(stub.url, "key", **FAST)
        client.threads.get("t")
        client.close(0)
    assert stub.requests[0]["path"] == "/api/query"
    assert "idempotency-key" not in stub.requests[0]["headers"]


# -- approvals.wait ----------------------------------------------------------------------------


def test_approvals_wait_returns_when_a_reviewer_decides(client, reviewer):
    thread_id = client.threads.create(title="Wait")
    request_id = client.approvals.create(thread_id, "plan")
    result = {}
    waiter = threading.Thread(
        target=lambda: result.update(client.approvals.wait(request_id, timeout=BOUND))
    )
    waiter.start()
    reviewer.approvals.resolve(request_id, "changes_requested", comment="smaller steps")
    waiter.join(BOUND + 5)
    assert not waiter.is_alive()
    assert result["status"] == "changes_requested"
    assert result["comment"] == "smaller steps"


def test_approvals_wait_returns_when_the_request_expires(server, client):
    from api import deadlines

    async def start_watcher():
        deadlines.start()  # as the server's lifespan does; ended with the server's loop

    server.run(start_watcher())
    thread_id = client.threads.create(title="Deadline")
    request_id = client.approvals.create(thread_id, "plan", timeout_ms=1000)

    request = client.approvals.wait(request_id, timeout=BOUND)

    assert request["status"] == "expired"
    assert request["expiresTime"] == request["_creationTime"] + 1000
    assert "decidedBy" not in request


def test_approvals_with_two_required_approvals_wait_for_both(server, client):
    first = server.client(api_key=server.person("reviewer"))
    second = server.client(api_key=server.person("reviewer"))
    thread_id = client.threads.create(title="Two people")
    request_id = client.approvals.create(thread_id, "plan", required_approvals=2)

    first.approvals.resolve(request_id, "approved", comment="looks right")
    halfway = client.approvals.wait(request_id, timeout=0.2)
    with pytest.raises(FunctionError, match="already approved"):
        first.approvals.resolve(request_id, "approved")
    second.approvals.resolve(request_id, "approved")
    done = client.approvals.wait(request_id, timeout=BOUND)

    assert (halfway["status"], len(halfway["approvals"])) == ("pending", 1)
    assert halfway["approvals"][0]["comment"] == "looks right"
    assert (done["status"], done["requiredApprovals"], len(done["approvals"])) == (
        "approved",
        2,
        2,
    )


def test_approvals_wait_returns_the_pending_request_on_timeout(client):
    thread_id = client.threads.create(title="Timeout")
    request_id = client.approvals.create(thread_id, "plan")
    request = client.approvals.wait(request_id, timeout=0.2)
    assert request["_id"] == request_id
    assert request["status"] == "pending"


def test_approvals_wait_for_an_unknown_request_raises(client):
    with pytest.raises(ThreadlineError, match="not found"):
        client.approvals.wait("apr_unknown", timeout=1)


def test_approvals_wait_long_polls_in_chunks_of_at_most_60_seconds():
    statuses = iter(["pending", "pending", "approved"])

    def respond(_request):
        return 200, {}, {"status": "success", "value": {"_id": "a", "status": next(statuses)}}

    with StubServer(respond) as stub:
        client = Threadline(stub.url, "key", **FAST)
        assert client.approvals.wait("a", timeout=1000)["status"] == "approved"
        client.close(0)
    waits = [request["body"]["args"]["waitMs"] for request in stub.requests]
    assert len(waits) == 3
    assert all(0 < wait <= 60_000 for wait in waits)


# -- the async flavour -------------------------------------------------------------------------


async def test_async_client_helpers(server):
    reviewer_token = server.person("reviewer")
    async with AsyncThreadline(server.url, server.api_key, **FAST) as client:
        thread_id = await client.threads.create(title="Async", metadata={"a": 1})
        assert (await client.threads.get(thread_id))["metadata"] == {"a": 1}
        assert (await client.threads.list(num_items=5))["page"][0]["_id"] == thread_id
        await client.threads.update(thread_id, title="Async run")

        await client.messages.create(thread_id, "user", "first")
        for number in range(5):
            await client.messages.post_create(thread_id, "assistant", f"part {number}")
        await client.sessions.post_upsert(thread_id, phase="planning")
        await client.tool_calls.post_record(thread_id, "search", {}, tool_call_id="c1")
        await client.tool_calls.post_record(thread_id, "search", {}, output=[1], tool_call_id="c1")
        assert await client.flush(BOUND)
        contents = [m["content"] for m in await client.messages.list(thread_id)]
        assert contents == ["first"] + [f"part {number}" for number in range(5)]
        assert (await client.messages.list(thread_id, num_items=1))["page"][0]["order"] == 5
        assert (await client.sessions.get(thread_id))["phase"] == "planning"
        await client.sessions.upsert(thread_id, phase="awaiting_approval")
        calls = await client.tool_calls.list(thread_id)
        assert [(c["status"], c["output"]) for c in calls] == [("succeeded", [1])]
        await client.tool_calls.record(thread_id, "clock", None)
        assert len((await client.tool_calls.list(thread_id, num_items=5))["page"]) == 2

        plan_id = await client.artifacts.create(thread_id, "plan", "v1")
        await client.artifacts.update(plan_id, content="v2")
        assert (await client.artifacts.get(plan_id))["version"] == 2
        assert len(await client.artifacts.versions(plan_id)) == 2
        assert len(await client.artifacts.list(thread_id=thread_id)) == 1

        request_id = await client.approvals.create(thread_id, "v2", artifact_id=plan_id)
        assert (await client.approvals.get(request_id))["status"] == "pending"
        assert len(await client.approvals.list(thread_id=thread_id)) == 1
        assert (await client.approvals.wait(request_id, timeout=0.1))["status"] == "pending"
        async with AsyncThreadline(server.url, reviewer_token, **FAST) as person:
            await person.approvals.resolve(request_id, "rejected", comment="no")
        assert (await client.approvals.wait(request_id, timeout=BOUND))["status"] == "rejected"
        with pytest.raises(FunctionError, match="already rejected"):
            await client.approvals.cancel(request_id)
        two = await client.approvals.create(
            thread_id, "v2", timeout_ms=3_600_000, required_approvals=2
        )
        two_doc = await client.approvals.get(two)
        assert (two_doc["requiredApprovals"], two_doc["approvals"]) == (2, [])
        assert two_doc["expiresTime"] == two_doc["_creationTime"] + 3_600_000
        assert (await client.query("threads:get", {"threadId": thread_id}))["title"] == "Async run"
        await client.threads.remove(thread_id)
        assert await client.threads.get(thread_id) is None


def test_sync_and_async_helpers_have_the_same_signatures():
    pairs = [
        (resources.Threads, async_resources.AsyncThreads),
        (resources.Messages, async_resources.AsyncMessages),
        (resources.Artifacts, async_resources.AsyncArtifacts),
        (resources.Sessions, async_resources.AsyncSessions),
        (resources.ToolCalls, async_resources.AsyncToolCalls),
        (resources.Approvals, async_resources.AsyncApprovals),
    ]
    for sync_class, async_class in pairs:
        sync_methods = {n: m for n, m in vars(sync_class).items() if not n.startswith("_")}
        async_methods = {n: m for n, m in vars(async_class).items() if not n.startswith("_")}
        assert sync_methods.keys() == async_methods.keys(), sync_class
        for name, method in sync_methods.items():
            assert method.__doc__, f"{sync_class.__name__}.{name} has no docstring"
            assert inspect.iscoroutinefunction(async_methods[name])
            assert inspect.signature(method) == inspect.signature(async_methods[name]), name


# -- packaging and the example -----------------------------------------------------------------

BLOCKING_IMPORTER = """
import importlib.abc, sys

BLOCKED = {"reflex", "sqlalchemy", "sqlmodel", "alembic", "starlette", "pydantic", "api",
           "models", "app"}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Block())
for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]

import threadline_client
from threadline_client import AsyncThreadline, Threadline

client = Threadline("http://127.0.0.1:9", "key")
client.close(0)
leaked = sorted(n for n in sys.modules if n.split(".")[0] in BLOCKED)
assert not leaked, leaked
print("imported without", ", ".join(sorted(BLOCKED)))
"""


def test_client_imports_without_the_servers_packages():
    done = subprocess.run(
        [sys.executable, "-c", BLOCKING_IMPORTER],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BOUND,
    )
    assert done.returncode == 0, done.stderr
    assert "imported without" in done.stdout


@pytest.mark.parametrize(
    ("decision", "flags"),
    [("approved", []), ("approved", ["--stray-call"]), ("changes_requested", [])],
)
def test_example_agent_backend_runs_end_to_end(server, client, reviewer, decision, flags):
    env = {**os.environ, "THREADLINE_URL": server.url, "THREADLINE_API_KEY": server.api_key}
    backend = subprocess.Popen(
        [sys.executable, str(ROOT / "examples" / "agent_backend.py"), "--delay", "0", *flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        request = client.approvals.list(status="pending", num_items=1)["page"]
        for _ in range(int(BOUND / 0.05)):
            if request:
                break
            threading.Event().wait(0.05)
            request = client.approvals.list(status="pending", num_items=1)["page"]
        assert request, "the example never asked for approval"
        reviewer.approvals.resolve(request[0]["_id"], decision, comment="from the test")
        output, _ = backend.communicate(timeout=BOUND)
    finally:
        backend.kill()
    assert backend.returncode == 0, output
    thread_id = request[0]["threadId"]
    assert f"/approvals/{request[0]['_id']}" in output
    session = client.sessions.get(thread_id)
    reports = client.artifacts.list(thread_id=thread_id, type="report")
    calls = client.tool_calls.list(thread_id)
    assert calls and all(c["status"] == "succeeded" for c in calls)
    messages = client.messages.list(thread_id)
    assert [m["order"] for m in messages] == list(range(len(messages)))
    planned = client.approvals.get(request[0]["_id"])["plannedToolCalls"]
    assert [entry["toolName"] for entry in planned] == [
        "issue_refund",
        "send_email",
        "add_order_note",
    ]
    # Planning ran before the approval (not checked); what ran after it was checked.
    checked = [(c["toolName"], c.get("outsidePlan")) for c in calls if "approvalRequestId" in c]
    if decision == "approved":
        assert session["phase"] == "done"
        assert len(reports) == 1 and reports[0]["status"] == "final"
        expected = [("issue_refund", False), ("send_email", False), ("add_order_note", False)]
        if flags:
            expected.append(("issue_refund", True))  # the other payment: not in the plan
        assert checked == expected
        assert "outsidePlan" not in calls[0]
    else:
        assert checked == []
        assert "changes requested" in output.lower()
        assert "from the test" in output
        assert session["phase"] == "stopped"
        assert reports == []


def test_example_agent_backend_stops_when_its_request_expires(server, client):
    from api import deadlines

    async def start_watcher():
        deadlines.start()

    server.run(start_watcher())
    env = {**os.environ, "THREADLINE_URL": server.url, "THREADLINE_API_KEY": server.api_key}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "agent_backend.py"), "--delay", "0"]
        + ["--approval-timeout", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BOUND * 3,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "request expired, stopping" in done.stdout
    (request,) = client.approvals.list(status="expired")
    assert request["expiresTime"] == request["_creationTime"] + 1000
    assert client.sessions.get(request["threadId"])["phase"] == "stopped"
