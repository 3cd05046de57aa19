"""Which committed writes may change which subscribed queries.

The group-commit writer publishes one `sync:touched` event per committed batch (api/writer.py):
the set of (module, threadId) pairs its mutations wrote, e.g. ("messages", "thr_1"). With REDIS_URL
the event reaches every worker (api/events.py). Here each subscribed query is indexed by what it
reads, so that a batch on one thread wakes only the sockets watching that thread:

- a query with a `threadId` argument depends on that thread: it re-runs when a write names the
  same thread in one of the modules it reads (its own module, and `threads`, which decides who may
  see the thread), or names no thread at all in one of those modules;
- a query without one depends on its modules as a whole;
- the console's cross-cutting queries (dashboard, inbox, timeline, audit) depend on everything.

Re-runs are coalesced per socket (server.py): many batches while a transition is computed make one
more transition, and only values that changed are sent.

`Hub.generation` counts the batches heard (this worker's and, through Redis, the others'). It goes
up before any subscription is woken, so a result read once the generation is g reflects every
commit announced up to g: sockets woken together share one read per generation (api/sync/shared.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from api.events import bus
from api.registry import FunctionSpec
from api.vocabulary import SYNC_TOUCHED

EVERYTHING = "*"
# Queries that read across modules.
_BROAD = {"console", "dashboard", "inbox", "timeline", "auditLog"}
# Modules whose rows also show in another module's queries (an approval names its artifact).
_ALSO_READS = {"artifacts": {"approvalRequests"}, "approvalRequests": {"artifacts"}}


def module_of(path: str) -> str:
    return path.split(":", 1)[0]


@dataclass(frozen=True)
class Dependency:
    modules: frozenset[str]
    thread_id: str | None


def dependency_of(spec: FunctionSpec, args: Any) -> Dependency:
    module = module_of(spec.path)
    if module in _BROAD:
        return Dependency(frozenset({EVERYTHING}), None)
    thread_id = getattr(args, "threadId", None)
    modules = {module, "threads", *_ALSO_READS.get(module, ())}
    return Dependency(frozenset(modules), thread_id if isinstance(thread_id, str) else None)


class Watcher(Protocol):
    def invalidate(self, query_id: int) -> None: ...


@dataclass(eq=False)
class Subscription:
    watcher: Watcher
    query_id: int
    dependency: Dependency


class Hub:
    """Every subscription of this process, indexed by thread and by module."""

    def __init__(self) -> None:
        self._by_thread: dict[str, set[Subscription]] = defaultdict(set)
        self._by_module: dict[str, set[Subscription]] = defaultdict(set)
        self._count = 0
        self.batches_seen = 0
        # Advanced by every committed batch, before its subscriptions are woken (see above).
        self.generation = 0

    def __len__(self) -> int:
        return self._count

    def add(self, subscription: Subscription) -> None:
        dependency = subscription.dependency
        if dependency.thread_id is not None:
            self._by_thread[dependency.thread_id].add(subscription)
        else:
            for module in dependency.modules:
                self._by_module[module].add(subscription)
        self._count += 1

    def discard(self, subscription: Subscription) -> None:
        dependency = subscription.dependency
        if dependency.thread_id is not None:
            _remove(self._by_thread, dependency.thread_id, subscription)
        else:
            for module in dependency.modules:
                _remove(self._by_module, module, subscription)
        self._count -= 1

    def touched(self, pairs: Iterable[tuple[str, str | None]]) -> None:
        """A batch committed writes to these (module, threadId) pairs: wake what may change."""
        self.batches_seen += 1
        self.generation += 1
        if not self._count:
            return
        hit: set[Subscription] = set()
        for module, thread_id in pairs:
            hit.update(self._by_module.get(module, ()))
            hit.update(self._by_module.get(EVERYTHING, ()))
            if thread_id is not None:
                for sub in self._by_thread.get(thread_id, ()):
                    if module in sub.dependency.modules:
                        hit.add(sub)
            else:  # a write that names no thread may concern any of them
                for subs in self._by_thread.values():
                    hit.update(sub for sub in subs if module in sub.dependency.modules)
        for sub in hit:
            sub.watcher.invalidate(sub.query_id)


def _remove(index: dict[str, set[Subscription]], key: str, subscription: Subscription) -> None:
    subs = index.get(key)
    if subs is not None:
        subs.discard(subscription)
        if not subs:
            del index[key]


hub = Hub()


def _on_touched(_topic: str, payload: dict[str, Any]) -> None:
    hub.touched((module, thread_id) for module, thread_id in payload.get("touched", ()))


bus.add_listener(SYNC_TOUCHED, _on_touched)
