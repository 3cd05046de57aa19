"""Query results shared among the sync sockets of one worker.

When one committed batch wakes 500 sockets subscribed to the same query (every reviewer's inbox on
`approvalRequests:list`, every viewer of one thread's newest messages), the result is read, encoded
and hashed once and each socket's transition reuses it: the socket still sends its own queryId and
journal in its own frame, only the work behind the value is shared.

What a shared result may be reused for is narrow on purpose:

- The key is (function path, canonical arguments, the caller's visibility scope), and only the
  functions in SCOPES are shared at all. A function's scope says which callers are sure to get the
  same result; it is chosen per function, from its code, and a function not listed is never shared.
- An entry is valid for one `hub.generation` only (api/sync/subscriptions.py): the generation goes
  up with every committed batch this worker hears of (its own writer's, before any caller is
  answered, and the other workers' through Redis), before any subscription is woken. A result read
  once the generation was g therefore reflects every commit announced up to g, in particular every
  mutation whose response the socket's client has been given (its covering transition starts at a
  generation at least that high), and a new generation starts with no entries.
- Sockets read fresh, not from here, for new subscriptions, a changed identity and a re-check of
  credentials; their results are still offered to the others of the same generation.

While one socket reads an entry, the others of that generation wait for it (one read, not 500).
A transition takes shared results only if they all come from one snapshot (one reader's), and a
socket that stops waiting (closed) does not cancel the read for the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from api.errors import FunctionError
from api.registry import Args, Caller, FunctionSpec


@dataclass(frozen=True, eq=False)
class Outcome:
    """A query's result (or its FunctionError) with what every socket sends or compares."""

    ok: bool
    value: Any  # the result, or the FunctionError
    digest: bytes  # of the canonical JSON: a socket sends the value when it differs from its last
    text: str | None  # the value as it goes in a QueryUpdated frame (None for failures)


def outcome(ok: bool, value: Any) -> Outcome:
    """Encode and hash a result once, however many sockets send it."""
    body = json.dumps(value if ok else [value.message, value.data], sort_keys=True)
    digest = hashlib.blake2b(f"{ok}:{body}".encode(), digest_size=16).digest()
    return Outcome(ok, value, digest, json.dumps(value) if ok else None)


def failure(error: FunctionError) -> Outcome:
    return outcome(False, error)


def by_visibility(caller: Caller) -> Hashable:
    """The scope of functions whose result depends on the caller only through
    `Context.may_see_thread` / `visible_thread` / `own_threads_filter` (an end user sees their own
    threads, everyone else every thread) and `check_allowed` (the caller's grant): an end user
    shares with nobody but their own other sockets; other callers share with callers of the same
    kind and grant (reviewers with reviewers, API keys with API keys)."""
    if caller.is_end_user:
        return ("own", caller.kind, caller.id)
    return ("grant", caller.kind, caller.grant)


# The functions whose results are shared, each with its scope. Read a function's code before
# adding it: anything else it takes from the caller (its id in a claim, "you", its name) or from
# outside the database snapshot (a setting, the clock beyond what `ctx.now` decides within one
# generation) needs a narrower scope or no sharing.
#
# - approvalRequests:list: filters by `own_threads_filter` for end users, nothing else of the
#   caller; `show_claim` depends on the document and `ctx.now` only.
# - messages:list: `visible_thread` decides whether the thread is shown; the page is the thread's.
SCOPES: dict[str, Callable[[Caller], Hashable]] = {
    "approvalRequests:list": by_visibility,
    "messages:list": by_visibility,
}


# The most entries one generation keeps (the oldest go first). A generation lasts until the next
# write, which may be hours: without a bound, every distinct call read meanwhile (100k thread ids,
# page sizes) would keep its result alive. An evicted entry costs a socket one read of its own.
MAX_ENTRIES = 1024


def _usable(future: asyncio.Future[Outcome | None]) -> bool:
    """Pending, or done with a result (not a failed reader's None, nor cancelled)."""
    return not future.done() or (not future.cancelled() and future.result() is not None)


def query_key(spec: FunctionSpec, args: Args) -> tuple[str, str] | None:
    """(path, canonical arguments) of a shared function's call, None if it is never shared."""
    if spec.path not in SCOPES:
        return None
    return spec.path, json.dumps(args.model_dump(mode="json"), sort_keys=True)


def sharing_key(query: tuple[str, str], caller: Caller) -> tuple[str, str, Hashable]:
    return (*query, SCOPES[query[0]](caller))


class SharedResults:
    """The entries of the current generation: key -> the future of its Outcome (None when the
    socket that read it failed; the waiting sockets then read for themselves)."""

    def __init__(self) -> None:
        self.generation = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._entries: dict[Hashable, asyncio.Future[Outcome | None]] = {}
        # key -> who read it (one token per snapshot): a transition takes shared results only
        # when they all come from one snapshot, as a transition read here would.
        self._readers: dict[Hashable, object] = {}
        self.reads = 0  # entries read (for tests and the bench)
        self.reuses = 0  # times an entry served a socket other than its reader

    def __len__(self) -> int:
        return len(self._entries)

    def _current(self, generation: int) -> dict[Hashable, asyncio.Future[Outcome | None]] | None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop or generation > self.generation:
            self._loop, self.generation, self._entries = loop, generation, {}
            self._readers = {}
        if generation < self.generation:
            return None  # a newer generation is known: this one's results are not kept
        return self._entries

    def lookup(self, generation: int, key: Hashable) -> asyncio.Future[Outcome | None] | None:
        entries = self._current(generation)
        future = None if entries is None else entries.get(key)
        if future is not None and not _usable(future):
            return None
        return future

    def one_snapshot(self, keys: list[Hashable]) -> bool:
        """Whether the current entries of these keys were all read in one snapshot."""
        readers = {id(self._readers.get(key)) for key in keys}
        return len(readers) == 1 and all(key in self._readers for key in keys)

    def claim(
        self, generation: int, key: Hashable, reader: object | None = None
    ) -> asyncio.Future[Outcome | None] | None:
        """A future the caller promises to resolve with the result it reads (or None), if no one
        else is reading this entry; None otherwise. `reader` names the snapshot it reads in (the
        same for every key one transition reads)."""
        entries = self._current(generation)
        if entries is None:
            return None
        existing = entries.get(key)
        if existing is not None and _usable(existing):
            return None
        entries.pop(key, None)
        while len(entries) >= MAX_ENTRIES:
            oldest = next(iter(entries))
            del entries[oldest]  # its waiters still hold the future
            self._readers.pop(oldest, None)
        future = asyncio.get_running_loop().create_future()
        entries[key] = future
        self._readers[key] = future if reader is None else reader
        self.reads += 1
        return future

    def clear(self) -> None:
        self._entries, self._readers = {}, {}


shared = SharedResults()
