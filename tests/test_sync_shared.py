"""Sync sockets share one read per committed batch among identical subscriptions
(api/sync/shared.py): shared once, right per caller, never older than a write, and the frames
assembled around pre-encoded values are byte for byte what json.dumps made."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from contextlib import ExitStack
from typing import Any

import pytest
from starlette.testclient import TestClient

from api.errors import FunctionError
from api.registry import REGISTRY, Caller, lookup, parse_args
from api.sync import protocol, server
from api.sync.shared import (
    SCOPES,
    SharedResults,
    by_visibility,
    outcome,
    query_key,
    sharing_key,
)

PENDING = {"status": "pending"}
THREADS_PAGE = {"paginationOpts": {"numItems": 5, "cursor": None}}


# --- the pieces ---------------------------------------------------------------------------------


def test_pre_encoded_frames_are_what_json_dumps_makes():
    value = {"page": [{"_id": "msg_1", "content": 'é \u2028 "q"', "n": 1.5}], "isDone": False}
    journal = {"cursor": None}
    updated = protocol.query_updated(7, value, journal)
    text = protocol.query_updated_text(7, json.dumps(value), journal)
    assert text == json.dumps(updated)
    modifications = [updated, protocol.query_removed(2)]
    expected = protocol.transition((1, 2, 3), (4, 5, 2**62), modifications, -12.6, server_ts=99)
    assembled = protocol.transition_text(
        (1, 2, 3), (4, 5, 2**62), [json.dumps(m) for m in modifications], -12.6, server_ts=99
    )
    assert assembled == json.dumps(expected)
    empty = protocol.transition((0, 0, 0), (1, 0, 5), [], 0.0, server_ts=1)
    assert protocol.transition_text((0, 0, 0), (1, 0, 5), [], 0.0, server_ts=1) == json.dumps(empty)


def test_only_listed_functions_are_shared_and_scopes_separate_who_sees_what():
    for path in SCOPES:
        assert REGISTRY[path].kind == "query"
    threads = lookup("threads:list", "query")
    assert query_key(threads, parse_args(threads, THREADS_PAGE)) is None
    spec = lookup("approvalRequests:list", "query")
    one = query_key(spec, parse_args(spec, {"status": "pending"}))
    other = query_key(spec, parse_args(spec, {"status": "approved"}))
    assert one is not None and one != other
    reviewer = Caller(kind="user", id="usr_r1", role="reviewer")
    reviewer_2 = Caller(kind="user", id="usr_r2", role="reviewer")
    admin = Caller(kind="user", id="usr_a", role="admin")
    end_user = Caller(kind="user", id="usr_u1", role="user")
    end_user_2 = Caller(kind="user", id="usr_u2", role="user")
    key = Caller(kind="key", id="key_1")
    assert by_visibility(reviewer) == by_visibility(reviewer_2)
    scopes = [by_visibility(c) for c in (reviewer, admin, end_user, end_user_2, key)]
    assert len(set(scopes)) == len(scopes)


async def test_an_entry_lives_for_its_generation_only():
    results = SharedResults()
    first = results.claim(1, "k")
    assert first is not None and results.claim(1, "k") is None  # one reader at a time
    assert results.lookup(1, "k") is first
    first.set_result(outcome(True, [1]))
    assert results.lookup(2, "k") is None  # a newer batch: nothing kept
    assert results.claim(1, "k") is None and results.lookup(1, "k") is None  # stale: read alone
    failed = results.claim(2, "k")
    failed.set_result(None)  # its reader failed: the next one reads again
    assert results.lookup(2, "k") is None
    assert results.claim(2, "k") is not None


def test_failures_hash_by_message_and_data():
    assert outcome(False, FunctionError("no")).digest != outcome(False, FunctionError("no!")).digest
    assert outcome(True, {"a": 1, "b": 2}).digest == outcome(True, {"b": 2, "a": 1}).digest


# --- over sockets -------------------------------------------------------------------------------


class Socket:
    """A raw sync client: authenticates, subscribes, and keeps each query's latest value."""

    def __init__(self, stack: ExitStack, client: TestClient, token: str) -> None:
        self.ws = stack.enter_context(client.websocket_connect("/api/1.48.0/sync"))
        self.values: dict[int, Any] = {}
        self.seen: list[Any] = []  # every value received, in order
        self.query_set = 0
        self.ws.send_text(
            json.dumps(
                {
                    "type": "Connect",
                    "sessionId": str(uuid.uuid4()),
                    "connectionCount": 0,
                    "lastCloseReason": "InitialConnect",
                    "clientTs": 0,
                }
            )
        )
        self.ws.send_text(
            json.dumps(
                {"type": "Authenticate", "tokenType": "User", "value": token, "baseVersion": 0}
            )
        )

    def subscribe(self, query_id: int, path: str, args: dict) -> Any:
        add = {"type": "Add", "queryId": query_id, "udfPath": path, "args": [args]}
        base, self.query_set = self.query_set, self.query_set + 1
        modify = {"baseVersion": base, "newVersion": self.query_set, "modifications": [add]}
        self.ws.send_text(json.dumps({"type": "ModifyQuerySet", **modify}))
        wanted = self.query_set
        self.until(lambda frame: frame["endVersion"]["querySet"] >= wanted)
        return self.values[query_id]

    def until(self, done) -> None:
        while True:
            frame = json.loads(self.ws.receive_text())
            if frame["type"] != "Transition":
                continue
            for modification in frame["modifications"]:
                assert modification["type"] == "QueryUpdated", modification
                self.values[modification["queryId"]] = modification["value"]
                self.seen.append(modification["value"])
            if done(frame):
                return

    def until_value(self, query_id: int, done) -> Any:
        if query_id in self.values and done(self.values[query_id]):
            return self.values[query_id]
        self.until(lambda _frame: query_id in self.values and done(self.values[query_id]))
        return self.values[query_id]


def _ids(value: Any) -> set[str]:
    docs = value["page"] if isinstance(value, dict) else value
    return {doc["_id"] for doc in docs}


def _seen_ids(socket: Socket) -> set[str]:
    return set().union(*(_ids(value) for value in socket.seen))


@pytest.fixture
async def callers(people, api) -> dict[str, Any]:
    """Two reviewers, two end users each with a thread of their own."""
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.services import signin

    tokens = {"reviewer": people["reviewer"]["token"], "user": people["user"]["token"]}
    ids = {"user": people["user"]["id"]}
    for role, name in (("reviewer", "reviewer2"), ("user", "user2")):
        email, password = f"{name}@example.com", f"{name}-password-1"
        ids[name] = await call(
            "users:create",
            {"email": email, "name": name, "role": role, "password": password},
            CLI_CALLER,
        )
        tokens[name] = (await signin.sign_in(email, password)).token
    threads = {
        who: await api.mutation("threads:create", {"title": who, "userId": ids[who]})
        for who in ("user", "user2")
    }
    return {"tokens": tokens, "threads": threads}


@pytest.fixture
def reads(monkeypatch) -> Counter:
    """(function, caller scope) -> how many times a sync transition ran it."""
    counted: Counter = Counter()
    real = server.run_query_on

    def counting(conn, spec, args, caller):
        counted[spec.path, by_visibility(caller)] += 1
        return real(conn, spec, args, caller)

    monkeypatch.setattr(server, "run_query_on", counting)
    return counted


def _settle(socket: Socket) -> None:
    """Wait until every re-run the socket owes has been sent: a new subscription's transition
    comes after them (one transition at a time) and carries any dirty query along."""
    socket.subscribe(100 + socket.query_set, "threads:list", THREADS_PAGE)


def test_identical_subscriptions_share_one_read_and_each_caller_sees_its_own(
    database_url, api_key, callers, reads
):
    tokens, threads = callers["tokens"], callers["threads"]
    with TestClient(server_app()) as client, ExitStack() as stack:
        sockets = {name: Socket(stack, client, tokens[name]) for name in tokens}
        for socket in sockets.values():
            assert socket.subscribe(0, "approvalRequests:list", PENDING) == []

        def create(thread: str) -> str:
            response = client.post(
                "/api/mutation",
                json={
                    "path": "approvalRequests:create",
                    "args": {"threadId": thread, "planContent": "Plan"},
                },
                headers={"Authorization": f"Bearer {api_key}"},
            )
            return response.json()["value"]

        reads.clear()
        first = create(threads["user"])
        for name in ("reviewer", "reviewer2", "user"):
            assert first in _ids(sockets[name].until_value(0, lambda v: first in _ids(v)))
        _settle(sockets["user2"])
        reviewer_scope = by_visibility(Caller(kind="user", id="-", role="reviewer"))
        # The two reviewers' sockets: one read between them. Each end user read their own.
        assert reads["approvalRequests:list", reviewer_scope] == 1
        user_reads = [k for k in reads if k[0] == "approvalRequests:list" and k[1][0] == "own"]
        assert len(user_reads) == 2 and all(reads[key] == 1 for key in user_reads)

        # A write makes a new generation: nobody is answered from the first one.
        second = create(threads["user2"])
        both = {first, second}
        for name in ("reviewer", "reviewer2"):
            assert sockets[name].until_value(0, lambda v: both <= _ids(v)) is not None
        assert _ids(sockets["user2"].until_value(0, lambda v: second in _ids(v))) == {second}
        _settle(sockets["user"])
        assert _ids(sockets["user"].values[0]) == {first}
        # Neither end user was ever shown the other's request.
        assert first not in _seen_ids(sockets["user2"])
        assert second not in _seen_ids(sockets["user"])


def test_an_end_user_is_not_shown_a_reviewers_page_of_someone_elses_thread(
    database_url, api_key, callers, reads
):
    tokens, threads = callers["tokens"], callers["threads"]
    page = {"threadId": threads["user"], "paginationOpts": {"numItems": 5, "cursor": None}}
    with TestClient(server_app()) as client, ExitStack() as stack:
        reviewer = Socket(stack, client, tokens["reviewer"])
        owner = Socket(stack, client, tokens["user"])
        stranger = Socket(stack, client, tokens["user2"])
        for socket in (reviewer, owner, stranger):
            assert socket.subscribe(0, "messages:list", page)["page"] == []
        response = client.post(
            "/api/mutation",
            json={
                "path": "messages:create",
                "args": {"threadId": threads["user"], "role": "assistant", "content": "hi"},
            },
            headers={"Authorization": f"Bearer {api_key}"},
        )
        message = response.json()["value"]
        for socket in (reviewer, owner):
            socket.until_value(0, lambda v: message in _ids(v))
        _settle(stranger)
        assert stranger.values[0]["page"] == [] and message not in _seen_ids(stranger)


def _approvals_query() -> server.Query:
    spec = lookup("approvalRequests:list", "query")
    query = server.Query(0, spec.path, None, spec, parse_args(spec, PENDING))
    query.shared_as = query_key(spec, query.args)
    return query


async def test_a_failed_reader_lets_the_waiting_sockets_read_for_themselves(monkeypatch):
    results = SharedResults()
    monkeypatch.setattr(server, "shared", results)
    caller = Caller(kind="user", id="usr_r1", role="reviewer")
    query = _approvals_query()
    key = sharing_key(query.shared_as, caller)
    reader, waiter = server.SyncSession(None), server.SyncSession(None)

    release = asyncio.Event()

    async def broken(_queries, _caller):
        await release.wait()
        raise RuntimeError("the database went away")

    own = [outcome(True, ["read by the waiter"])]

    async def works(_queries, _caller):
        return own

    monkeypatch.setattr(reader, "_read", broken)
    monkeypatch.setattr(waiter, "_read", works)
    reading = asyncio.ensure_future(reader._outcomes([query], caller, set(), 7))
    await asyncio.sleep(0)
    assert results.lookup(7, key) is not None  # claimed: the others wait for it
    waiting = asyncio.ensure_future(waiter._outcomes([query], caller, set(), 7))
    await asyncio.sleep(0)
    assert not waiting.done()
    release.set()
    with pytest.raises(RuntimeError):
        await reading
    assert await waiting == own  # not stuck on the failed read
    assert (await results.lookup(7, key)) is own[0]  # and offered to the next ones


async def test_new_subscriptions_read_fresh_even_when_an_entry_exists(monkeypatch):
    results = SharedResults()
    monkeypatch.setattr(server, "shared", results)
    caller = Caller(kind="user", id="usr_r1", role="reviewer")
    query = _approvals_query()
    entry = results.claim(3, sharing_key(query.shared_as, caller))
    entry.set_result(outcome(True, ["shared"]))
    session = server.SyncSession(None)
    fresh = [outcome(True, ["fresh"])]

    async def read(_queries, _caller):
        return fresh

    monkeypatch.setattr(session, "_read", read)
    assert await session._outcomes([query], caller, {query.query_id}, 3) == fresh
    assert await session._outcomes([query], caller, set(), 3) == [entry.result()]


def server_app():
    from api.http import create_api

    return create_api()


async def test_a_waiter_closed_mid_wait_does_not_cancel_the_read_for_the_others(monkeypatch):
    """A socket closing while it waits on another's read must not cancel that read's result:
    the other waiters would fail, and the entry would raise on every later look-up."""
    results = SharedResults()
    monkeypatch.setattr(server, "shared", results)
    caller = Caller(kind="user", id="usr_r1", role="reviewer")
    query = _approvals_query()
    key = sharing_key(query.shared_as, caller)
    entry = results.claim(5, key)
    leaving = asyncio.ensure_future(server.SyncSession(None)._outcomes([query], caller, set(), 5))
    staying = asyncio.ensure_future(server.SyncSession(None)._outcomes([query], caller, set(), 5))
    await asyncio.sleep(0)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert not entry.cancelled()
    value = outcome(True, ["shared"])
    entry.set_result(value)
    assert await staying == [value]
    assert results.lookup(5, key) is entry


async def test_a_cancelled_entry_is_read_again_not_raised():
    results = SharedResults()
    results.claim(2, "k").cancel()
    assert results.lookup(2, "k") is None
    assert results.claim(2, "k") is not None


async def test_the_entries_of_one_generation_are_bounded(monkeypatch):
    """Hours without a write keep one generation: 100k distinct arguments must not keep 100k
    results alive (the oldest go; a socket that finds none reads for itself)."""
    from api.sync import shared as shared_module

    monkeypatch.setattr(shared_module, "MAX_ENTRIES", 10)
    results = SharedResults()
    for n in range(100):
        assert results.claim(1, n) is not None
    assert len(results) == 10
    assert results.lookup(1, 99) is not None and results.lookup(1, 0) is None


async def test_a_transition_does_not_combine_results_read_in_different_snapshots(monkeypatch):
    """Two sockets' reads of one generation may straddle a commit not yet announced: a third
    socket taking one result from each would show a state no snapshot had."""
    results = SharedResults()
    monkeypatch.setattr(server, "shared", results)
    caller = Caller(kind="user", id="usr_r1", role="reviewer")
    spec = lookup("approvalRequests:list", "query")
    queries = []
    for query_id, args in enumerate([PENDING, {"status": "approved"}]):
        query = server.Query(query_id, spec.path, None, spec, parse_args(spec, args))
        query.shared_as = query_key(spec, query.args)
        queries.append(query)
    keys = [sharing_key(query.shared_as, caller) for query in queries]
    for key, reader, value in zip(keys, ["a", "b"], ["before", "after"], strict=True):
        results.claim(4, key, reader).set_result(outcome(True, [value]))
    session = server.SyncSession(None)
    own = [outcome(True, ["mine 0"]), outcome(True, ["mine 1"])]

    async def read(_queries, _caller):
        return own

    monkeypatch.setattr(session, "_read", read)
    assert await session._outcomes(queries, caller, set(), 4) == own
    # Read together (one snapshot), they are taken together.
    together = [outcome(True, ["together 0"]), outcome(True, ["together 1"])]
    for key, value in zip(keys, together, strict=True):
        results.claim(5, key, "c").set_result(value)
    assert await session._outcomes(queries, caller, set(), 5) == together
