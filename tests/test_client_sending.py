"""threadline_client's background sending: exactly once and in order per thread through a flaky
network, flush at interpreter exit, final failures, the queue bound, and retry timing rules."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.client_support import BOUND, FAST, SUCCESS, FlakyProxy, StubServer, running_server
from tests.client_support import port_of as port_of_url
from threadline_client import (
    AsyncThreadline,
    ClientClosed,
    FunctionError,
    QueueFull,
    ServerError,
    Threadline,
    Unauthenticated,
)
from threadline_client._wire import RetryPolicy, parse_retry_after

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def server(sqlite_url):
    with running_server() as running:
        yield running


class Failures:
    """An on_failure callback that remembers what it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, Exception]] = []

    def __call__(self, path, args, error) -> None:
        self.calls.append((path, args, error))


def test_posts_arrive_exactly_once_and_in_order_through_a_flaky_network(server):
    threads, per_thread = 5, 30
    direct = server.client()
    thread_ids = [direct.threads.create(title=f"flaky {n}") for n in range(threads)]
    failures = Failures()
    with FlakyProxy(port_of_url(server.url)) as proxy:
        client = server.client(
            url=proxy.url, post_retries=30, concurrency=4, timeout=5, on_failure=failures
        )
        for step in range(per_thread):
            for thread_id in thread_ids:
                client.messages.post_create(thread_id, "assistant", f"{thread_id}/{step}")
                if step % 10 == 0:
                    call = f"{thread_id}-call-{step}"
                    client.tool_calls.post_record(thread_id, "t", {"step": step}, tool_call_id=call)
                    client.tool_calls.post_record(
                        thread_id, "t", {"step": step}, output=step, tool_call_id=call
                    )
        assert client.flush(BOUND * 3)

    assert failures.calls == []
    for thread_id in thread_ids:
        messages = server.query("messages:list", {"threadId": thread_id})
        assert [m["content"] for m in messages] == [f"{thread_id}/{s}" for s in range(per_thread)]
        assert [m["order"] for m in messages] == list(range(per_thread))
        calls = server.query("toolCalls:list", {"threadId": thread_id})
        assert [(c["input"]["step"], c["status"], c["output"]) for c in calls] == [
            (step, "succeeded", step) for step in range(0, per_thread, 10)
        ]
    counters = client.counters
    total = threads * per_thread + threads * 3 * 2
    assert (counters.queued, counters.sent, counters.failed, counters.pending) == (
        total,
        total,
        0,
        0,
    )
    # The proxy did its job: requests were lost on the way in and replies on the way back (the
    # case where only the Idempotency-Key keeps a retried write from being applied twice).
    assert proxy.dropped_before > 0 and proxy.dropped_after > 0
    assert counters.retried >= proxy.dropped_after


CHILD = """
import sys
from threadline_client import Threadline

url, key, thread_id, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = Threadline(url, key, exit_timeout=20)
for number in range(count):
    client.messages.post_create(thread_id, "assistant", f"message {number}")
print("queued", client.counters.queued, "sent before exit", client.counters.sent, flush=True)
# Exits without flush() or close(): the atexit hook must deliver the rest.
"""


def test_what_is_queued_is_delivered_when_the_interpreter_exits(server):
    count = 200
    thread_id = server.client().threads.create(title="exit")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, server.url, server.api_key, thread_id, str(count)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BOUND * 2,
    )
    assert done.returncode == 0, done.stderr
    assert f"queued {count}" in done.stdout
    messages = server.query("messages:list", {"threadId": thread_id})
    assert [m["content"] for m in messages] == [f"message {n}" for n in range(count)]


def test_a_function_error_is_reported_once_and_not_retried(server):
    failures = Failures()
    client = server.client(on_failure=failures)
    thread_id = client.threads.create(title="gone")
    client.threads.remove(thread_id)
    client.messages.post_create(thread_id, "user", "into the void")
    assert client.flush(BOUND)

    [(path, args, error)] = failures.calls
    assert path == "messages:create"
    assert args == {"threadId": thread_id, "role": "user", "content": "into the void"}
    assert isinstance(error, FunctionError)
    assert f"Thread {thread_id} not found" in error.message
    counters = client.counters
    assert (counters.sent, counters.retried, counters.failed) == (0, 0, 1)


def test_a_server_that_always_answers_503_exhausts_the_retries():
    failures = Failures()
    with StubServer(lambda _request: (503, {"Retry-After": "0"}, {"code": "Unavailable"})) as stub:
        client = Threadline(stub.url, "key", post_retries=3, on_failure=failures, **FAST)
        client.post("threads:update", {"threadId": "thr_1", "title": "x"})
        assert client.flush(BOUND)
        client.close(0)
    [(path, _args, error)] = failures.calls
    assert path == "threads:update"
    assert isinstance(error, ServerError) and error.status_code == 503
    assert len(stub.requests) == 4
    assert len({request["headers"]["idempotency-key"] for request in stub.requests}) == 1
    counters = client.counters
    assert (counters.sent, counters.retried, counters.failed) == (0, 3, 1)


def test_a_rejected_key_is_reported_without_retrying(server):
    failures = Failures()
    client = server.client(api_key="tl_revoked_or_wrong", on_failure=failures)
    client.sessions.post_upsert("thr_x", phase="planning")
    assert client.flush(BOUND)
    [(_path, _args, error)] = failures.calls
    assert isinstance(error, Unauthenticated)
    assert client.counters.retried == 0


def test_an_on_failure_callback_that_raises_does_not_stop_the_sender(server):
    def broken(_path, _args, _error):
        raise RuntimeError("callback bug")

    client = server.client(on_failure=broken)
    thread_id = client.threads.create(title="after a broken callback")
    client.messages.post_create("thr_missing", "user", "fails")
    client.messages.post_create(thread_id, "user", "still sent")
    assert client.flush(BOUND)
    assert [m["content"] for m in client.messages.list(thread_id)] == ["still sent"]
    assert (client.counters.sent, client.counters.failed) == (1, 1)


class HeldServer(StubServer):
    """Answers success, but only once `release` is set (bounded), to keep writes in flight."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.arrived = threading.Semaphore(0)

        def respond(_request):
            self.arrived.release()
            self.release.wait(BOUND)
            return SUCCESS

        super().__init__(respond)


def test_a_full_queue_raises_queue_full_after_the_timeout():
    with HeldServer() as stub:
        client = Threadline(stub.url, "key", max_queue=3, queue_timeout=0.1, concurrency=1)
        for number in range(3):
            client.post("threads:create", {"title": str(number)})
        assert stub.arrived.acquire(timeout=BOUND)  # the first is in flight, two wait
        with pytest.raises(QueueFull):
            client.post("threads:create", {"title": "one too many"})
        stub.release.set()
        assert client.flush(BOUND)
        client.close(0)
    assert [r["body"]["args"]["title"] for r in stub.requests] == ["0", "1", "2"]
    assert (client.counters.queued, client.counters.sent) == (3, 3)


def test_a_full_queue_takes_the_write_once_room_frees_up():
    with HeldServer() as stub:
        client = Threadline(stub.url, "key", max_queue=2, queue_timeout=BOUND, concurrency=1)
        client.post("threads:create", {"title": "a"})
        client.post("threads:create", {"title": "b"})
        blocked = threading.Thread(target=client.post, args=("threads:create", {"title": "c"}))
        blocked.start()
        assert stub.arrived.acquire(timeout=BOUND)
        stub.release.set()
        blocked.join(BOUND)
        assert not blocked.is_alive()
        assert client.flush(BOUND)
        client.close(0)
    assert sorted(r["body"]["args"]["title"] for r in stub.requests) == ["a", "b", "c"]
    assert client.counters.failed == 0


async def test_async_post_raises_queue_full_without_blocking_the_loop():
    with HeldServer() as stub:
        client = AsyncThreadline(stub.url, "key", max_queue=1, queue_timeout=0.1, concurrency=1)
        await client.post("threads:create", {"title": "a"})
        with pytest.raises(QueueFull):
            await client.post("threads:create", {"title": "b"})
        stub.release.set()
        assert await client.flush(BOUND)
        await client.aclose(0)
    assert client.counters.sent == 1


def test_closing_reports_unsent_writes_as_client_closed(monkeypatch):
    monkeypatch.setattr("threadline_client._sender.CLOSE_GRACE_SECONDS", 0.05)
    failures = Failures()
    with HeldServer() as stub:
        client = Threadline(stub.url, "key", concurrency=1, on_failure=failures)
        client.post("threads:create", {"title": "in flight"})
        client.post("threads:create", {"title": "still queued"})
        assert stub.arrived.acquire(timeout=BOUND)
        assert client.close(timeout=0) is False
        stub.release.set()
        with pytest.raises(ClientClosed):
            client.post("threads:create", {"title": "after close"})
        with pytest.raises(ClientClosed):
            client.threads.get("thr_1")
    assert [(args["title"], type(error)) for _path, args, error in failures.calls] == [
        ("still queued", ClientClosed)
    ]


def test_posted_arguments_are_taken_as_they_were_when_posted():
    with StubServer(lambda _request: SUCCESS) as stub:
        client = Threadline(stub.url, "key")
        args = {"threadId": "thr_1", "role": "user", "content": "original"}
        client.post("messages:create", args)
        args["content"] = "changed afterwards"
        assert client.flush(BOUND)
        client.close(0)
    assert stub.requests[0]["body"]["args"]["content"] == "original"


def test_post_refuses_arguments_that_are_not_json():
    client = Threadline("http://127.0.0.1:9", "key")
    with pytest.raises(TypeError):
        client.post("messages:create", {"threadId": "t", "content": object()})
    with pytest.raises(ValueError):
        client.post("messages:create", {"threadId": "t", "content": float("nan")})
    assert client.counters.queued == 0
    client.close(0)


def test_retry_delays_grow_with_jitter_and_honour_retry_after():
    policy = RetryPolicy(retries=5, backoff=1.0, max_backoff=8.0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)]:
        delays = [policy.delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1  # jittered
    assert all(7.0 <= policy.delay(0, retry_after=7.0) <= 7.5 for _ in range(50))
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert parse_retry_after("soon") is None


@pytest.mark.parametrize(
    "value,where,key",
    [
        ({"$schema": "x"}, "args.input", "$schema"),
        ({"properties": [{"naïve": 1}]}, "args.input.properties[0]", "naïve"),
        ({"": 1}, "args.input", ""),
    ],
)
def test_post_refuses_keys_the_server_would_refuse_with_its_message(value, where, key):
    """The same rule and words as the server's (api/registry.py), raised in the caller's code
    instead of failing later in the background."""
    from api.registry import convex_key_message

    client = Threadline("http://127.0.0.1:9", "key")
    args = {"threadId": "t", "toolName": "x", "input": value}

    with pytest.raises(ValueError) as raised:
        client.post("toolCalls:record", args)

    assert str(raised.value) == f"toolCalls:record: {convex_key_message(where, key)}"
    assert client.counters.queued == 0
    client.close(0)


def test_post_takes_a_json_schema_sent_as_a_string():
    with StubServer(lambda _request: SUCCESS) as stub:
        client = Threadline(stub.url, "key")
        schema = json.dumps({"$schema": "x", "properties": {"naïve": {"$ref": "#/a"}}})
        client.tool_calls.post_record("thr_1", "t", schema)
        assert client.flush(BOUND)
        client.close(0)
    assert stub.requests[0]["body"]["args"]["input"] == schema
