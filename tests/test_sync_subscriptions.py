"""Which committed writes wake which subscriptions (api/sync/subscriptions.py), and the writer's
one event per committed batch that feeds it."""

from __future__ import annotations

from api.calls import call
from api.cli import CLI_CALLER
from api.events import bus
from api.registry import lookup, parse_args
from api.sync.subscriptions import Hub, Subscription, dependency_of
from api.vocabulary import SYNC_TOUCHED


class Recorder:
    def __init__(self) -> None:
        self.woken: list[int] = []

    def invalidate(self, query_id: int) -> None:
        self.woken.append(query_id)


def _subscribe(hub: Hub, watcher: Recorder, query_id: int, path: str, args: dict) -> Subscription:
    spec = lookup(path, "query")
    subscription = Subscription(watcher, query_id, dependency_of(spec, parse_args(spec, args)))
    hub.add(subscription)
    return subscription


THREAD_A = "thr_01m8sw4jrnksgttgp7ysmfp56p"
THREAD_B = "thr_01m8sw4jrppkcqs3k6rthg5e0m"


def test_a_write_wakes_only_the_queries_that_may_change():
    hub, watcher = Hub(), Recorder()
    _subscribe(hub, watcher, 1, "messages:list", {"threadId": THREAD_A})
    _subscribe(hub, watcher, 2, "messages:list", {"threadId": THREAD_B})
    _subscribe(hub, watcher, 3, "threads:list", {"paginationOpts": {"numItems": 5, "cursor": None}})
    _subscribe(hub, watcher, 4, "inbox:pending", {})
    _subscribe(hub, watcher, 5, "toolCalls:list", {"threadId": THREAD_A})
    hub.touched([("messages", THREAD_A)])
    assert sorted(watcher.woken) == [1, 4]  # not thread B, not the thread list, not tool calls
    watcher.woken.clear()
    hub.touched([("threads", THREAD_B)])  # a thread's change decides who sees its messages
    assert sorted(watcher.woken) == [2, 3, 4]
    watcher.woken.clear()
    hub.touched([("toolCalls", None)])  # a write naming no thread may concern any thread
    assert sorted(watcher.woken) == [4, 5]


def test_removed_subscriptions_are_not_woken():
    hub, watcher = Hub(), Recorder()
    subscription = _subscribe(hub, watcher, 1, "messages:list", {"threadId": THREAD_A})
    hub.discard(subscription)
    hub.touched([("messages", THREAD_A)])
    assert watcher.woken == [] and len(hub) == 0


async def test_the_writer_publishes_one_event_per_committed_batch(database_url):
    import asyncio

    heard = []
    listener = lambda _topic, payload: heard.append(payload)  # noqa: E731
    bus.add_listener(SYNC_TOUCHED, listener)
    try:
        thread_id = await call("threads:create", {"title": "t"}, CLI_CALLER)
        heard.clear()
        await asyncio.gather(
            *[
                call(
                    "messages:create",
                    {"threadId": thread_id, "role": "assistant", "content": f"m{i}"},
                    CLI_CALLER,
                )
                for i in range(20)
            ]
        )
        # A failed mutation touches nothing.
        try:
            await call("threads:update", {"threadId": thread_id, "status": "bogus"}, CLI_CALLER)
        except Exception:
            pass
    finally:
        bus.remove_listener(SYNC_TOUCHED, listener)
    pairs = [tuple(pair) for payload in heard for pair in payload["touched"]]
    assert set(pairs) == {("messages", thread_id)}
    assert len(heard) < 20  # batched: far fewer events than messages
