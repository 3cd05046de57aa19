"""One sync socket: `GET /api/{clientVersion}/sync`, as Convex's sync worker serves it.

State per socket (all versions start at 0 on every new socket, as the client's do):
- the last transitioned version (querySet, identity, ts) and what the client has asked for since
  (received querySet / identity versions, with the modifications and the caller not yet applied);
- the subscribed queries, each with the hash of the value last sent;
- the caller (an API key, a person's session token or a JWT from auth:signIn, or none).

Three tasks: the receive loop (handles frames in order), a mutation worker (one mutation at a
time, in order, as Convex does) and the updater, which computes one transition at a time: it takes
the pending changes, reads every query to (re)run in ONE read transaction (one snapshot, in the
query threads, off the event loop), and sends only values that changed. When every query of a
transition is one that sockets share (api/sync/shared.py) and was woken by a committed batch, it
takes the results of the current generation instead, read once for all the sockets woken with it.
A MutationResponse is sent before the transition that covers it, and that transition always
follows (the client resolves the mutation only once a transition's ts reaches the mutation's).
Mutations carry an idempotency key built from the session id and request id, so the re-send a
reconnecting client makes is answered from the record, not applied twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import exc as sa_exc
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from api import auth, credentials
from api.calls import _ensure_event_relay, call, off_loop, run_query_on
from api.db import get_engine
from api.errors import FunctionError, Unavailable
from api.events import bus
from api.http_bodies import decode_convex_json
from api.registry import Caller, FunctionSpec, lookup, parse_args
from api.settings import get_settings
from api.sync import convex_auth, protocol
from api.sync.protocol import ProtocolError, clock
from api.sync.shared import Outcome, failure, outcome, query_key, shared, sharing_key
from api.sync.subscriptions import Subscription, dependency_of, hub
from api.vocabulary import CREDENTIALS_CHANGED

log = logging.getLogger(__name__)

PING_AFTER_SECONDS = 15.0  # the client reconnects after 60 s without a frame
RECHECK_CREDENTIAL_SECONDS = 60.0  # expiry, and revocations made where no event reached us
MUTATION_TIMEOUT_SECONDS = 60.0
COALESCE_SECONDS = 0.02
UNAUTHENTICATED = (
    "Unauthenticated: authenticate the socket first (setAuth with a Threadline session token, "
    "a JWT from auth:signIn, or an API key)"
)


@dataclass
class Identity:
    caller: Caller
    credential: str
    expires_at: float | None = None  # epoch seconds, for JWTs


@dataclass(eq=False)
class Query:
    query_id: int
    udf_path: str
    journal: Any
    spec: FunctionSpec | None = None
    args: Any = None
    error: FunctionError | None = None  # unknown function or bad arguments: fails every time
    last_hash: bytes | None = None
    subscription: Subscription | None = None
    shared_as: tuple[str, str] | None = None  # (path, canonical args) if sockets share it


@dataclass
class Pending:
    """What the client asked for that no transition has applied yet."""

    adds: list[Query] = field(default_factory=list)
    removes: list[int] = field(default_factory=list)
    identity: Identity | None = None
    identity_changed: bool = False


async def identify(token_type: str, value: str | None) -> Identity | None:
    """The identity behind an Authenticate frame's token, or None if it is not valid now."""
    if not value:
        return None
    if token_type == "Admin":
        if not value.startswith(auth.API_KEY_PREFIX):
            return None
        caller = await credentials.caller_for(value)
        return None if caller is None else Identity(caller, value)
    if value.startswith(auth.SESSION_TOKEN_PREFIX) or value.startswith(auth.API_KEY_PREFIX):
        caller = await credentials.caller_for(value)
        return None if caller is None else Identity(caller, value)
    verified = convex_auth.caller_for_jwt(value)
    return None if verified is None else Identity(verified[0], value, verified[1])


def recheck(identity: Identity) -> Caller | None:
    """The identity's caller as the database says now (bypassing the credential cache)."""
    if identity.expires_at is not None and identity.expires_at <= time.time():
        return None
    credential = identity.credential
    if credential.startswith(auth.API_KEY_PREFIX):
        return auth.caller_for_key(auth.sha256(credential))
    if credential.startswith(auth.SESSION_TOKEN_PREFIX):
        session = auth.session_for_token(credential)
        return None if session is None else auth.caller_from_session(session)
    verified = convex_auth.caller_for_jwt(credential)
    return None if verified is None else verified[0]


class SyncSession:
    def __init__(self, websocket: WebSocket) -> None:
        self.ws = websocket
        self.session_id: str | None = None
        self.skew = 0.0
        self.version = (0, 0, 0)  # last transitioned (querySet, identity, ts)
        self.received_query_set = 0
        self.received_identity = 0
        self.queries: dict[int, Query] = {}
        self.pending = Pending()
        self.identity: Identity | None = None  # in force (transitioned)
        self.dirty: set[int] = set()
        self.fresh: set[int] = set()  # dirty queries that must not take a shared result
        self.must_send = False  # a transition is owed (query set / identity bump, mutation ts)
        self.closed = False
        self._wake = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._mutations: asyncio.Queue[dict] = asyncio.Queue()
        self._actions: set[asyncio.Task] = set()
        self._last_sent = time.monotonic()

    # --- the socket ---------------------------------------------------------------------------

    async def run(self) -> None:
        await self.ws.accept()
        await _ensure_event_relay()  # a worker serving only sockets still hears other workers
        sessions.add(self)
        tasks = [
            asyncio.create_task(self._updater()),
            asyncio.create_task(self._mutation_worker()),
            asyncio.create_task(self._heartbeat()),
        ]
        try:
            await self._receive_loop()
        except WebSocketDisconnect:
            pass
        except Exception:
            log.exception("sync socket failed")
            await self.close(protocol.CLOSE_INTERNAL, "InternalServerError")
        finally:
            self.closed = True
            sessions.discard(self)
            for task in [*tasks, *self._actions]:
                task.cancel()
            for query in self.queries.values():
                self._unwatch(query)
            self.queries.clear()

    async def _receive_loop(self) -> None:
        limit = get_settings().max_body_bytes
        while not self.closed:
            frame = await self.ws.receive()
            if frame["type"] == "websocket.disconnect":
                return
            text = frame.get("text")
            if text is None:
                await self.fatal("Binary frames are not part of the sync protocol; send JSON text")
                return
            if len(text) > limit:
                await self.close(protocol.CLOSE_TOO_BIG, f"Message larger than {limit} bytes")
                return
            try:
                message = protocol.parse_client_message(text)
                await self._handle(message)
            except ProtocolError as exc:
                await self.fatal(str(exc))
                return

    async def send(self, frame: dict[str, Any]) -> None:
        await self.send_text(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        if self.closed:
            return
        async with self._send_lock:
            try:
                await self.ws.send_text(text)
            except Exception:  # the peer went away; the receive loop ends the session
                self.closed = True
                return
        self._last_sent = time.monotonic()

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state == WebSocketState.CONNECTED:
            try:
                await self.ws.close(code, protocol.close_reason(reason))
            except Exception:
                pass
        self.closed = True
        self._wake.set()

    async def fatal(self, message: str) -> None:
        """A protocol fault: the client stops for good (it never reconnects after FatalError)."""
        await self.send(protocol.fatal_error(message))
        await self.close(protocol.CLOSE_PROTOCOL, message)

    async def auth_error(self, message: str, attempted: bool) -> None:
        """A token that is not (or no longer) valid. The client fetches a fresh token and
        reconnects, or goes on unauthenticated."""
        await self.send(protocol.auth_error(message, self.version[1], attempted))
        await self.close(protocol.CLOSE_NORMAL, "AuthError")

    # --- client messages ------------------------------------------------------------------------

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "Connect":
            self.session_id = message["sessionId"]
            client_ts = message.get("clientTs")
            if client_ts is not None:
                self.skew = client_ts - time.time() * 1000.0
        elif kind == "ModifyQuerySet":
            self._modify_query_set(message)
        elif kind == "Authenticate":
            await self._authenticate(message)
        elif kind == "Mutation":
            self._mutations.put_nowait(message)
        elif kind == "Action":
            task = asyncio.create_task(self._action(message))
            self._actions.add(task)
            task.add_done_callback(self._actions.discard)
        # "Event": debugging reports; ignored, as Convex does.

    def _modify_query_set(self, message: dict[str, Any]) -> None:
        base, new = message["baseVersion"], message["newVersion"]
        if base != self.received_query_set or new <= base:
            raise ProtocolError(
                f"ModifyQuerySet: base version {base} does not follow {self.received_query_set}"
                f" (or new version {new} is not above it)"
            )
        for modification in message["modifications"]:
            if modification["type"] == "Add":
                self.pending.adds.append(self._new_query(modification))
            else:
                self.pending.removes.append(modification["queryId"])
        self.received_query_set = new
        self.must_send = True
        self._wake.set()

    def _new_query(self, modification: dict[str, Any]) -> Query:
        path = protocol.canonical_path(modification["udfPath"])
        query = Query(modification["queryId"], path, modification.get("journal"))
        try:
            query.spec = lookup(query.udf_path, "query")
            query.args = parse_args(query.spec, _decoded(modification["args"]))
        except FunctionError as exc:
            query.error = exc
        else:
            query.shared_as = query_key(query.spec, query.args)
        return query

    async def _authenticate(self, message: dict[str, Any]) -> None:
        if message["baseVersion"] != self.received_identity:
            raise ProtocolError(
                f"Authenticate: base version {message['baseVersion']} is not the identity "
                f"version {self.received_identity}"
            )
        token_type = message["tokenType"]
        identity = None
        if token_type != "None":
            identity = await identify(token_type, message.get("value"))
            if identity is None:
                await self.auth_error(
                    "The token is not valid (unknown, revoked or expired): sign in again", True
                )
                return
        self.received_identity += 1
        self.pending.identity = identity
        self.pending.identity_changed = True
        self.must_send = True
        self._wake.set()

    @property
    def latest_caller(self) -> Caller | None:
        """The caller of the most recent Authenticate (mutations run as it at once)."""
        if self.pending.identity_changed:
            return None if self.pending.identity is None else self.pending.identity.caller
        return None if self.identity is None else self.identity.caller

    async def _mutation_worker(self) -> None:
        while True:
            message = await self._mutations.get()
            request_id = message["requestId"]
            try:
                caller = self.latest_caller
                if caller is None:
                    raise FunctionError(UNAUTHENTICATED)
                spec = lookup(protocol.canonical_path(message["udfPath"]), "mutation")
                key = None
                if self.session_id is not None and not spec.returns_secret:
                    key = f"sync:{self.session_id}:{request_id}"
                value = await asyncio.wait_for(
                    call(
                        spec.path,
                        _decoded(message["args"]),
                        caller,
                        kind="mutation",
                        idempotency_key=key,
                    ),
                    MUTATION_TIMEOUT_SECONDS,
                )
            except FunctionError as exc:
                response = protocol.mutation_response(
                    request_id, False, exc.message, None, exc.data
                )
            except (Unavailable, TimeoutError) as exc:
                message_text = f"Unavailable: {exc or 'the mutation timed out'}; try again"
                response = protocol.mutation_response(request_id, False, message_text, None)
            else:
                response = protocol.mutation_response(request_id, True, value, clock.now())
            await self.send(response)
            # The covering transition follows (the client resolves the mutation on it).
            self.must_send = True
            self._wake.set()

    async def _action(self, message: dict[str, Any]) -> None:
        request_id = message["requestId"]
        try:
            value = await convex_auth.run_action(
                protocol.canonical_path(message["udfPath"]),
                _decoded(message["args"]),
                self.latest_caller,
                self.ws,
            )
        except FunctionError as exc:
            response = protocol.action_response(request_id, False, exc.message, exc.data)
        except Unavailable as exc:
            response = protocol.action_response(request_id, False, f"Unavailable: {exc}")
        else:
            response = protocol.action_response(request_id, True, value)
        await self.send(response)

    # --- change notifications -------------------------------------------------------------------

    def invalidate(self, query_id: int) -> None:
        self.dirty.add(query_id)
        self._wake.set()

    def rerun_all(self) -> None:
        """Re-read every query for this caller (its role or rights changed): fresh, not shared."""
        self.dirty.update(self.queries)
        self.fresh.update(self.queries)
        self._wake.set()

    def _watch(self, query: Query) -> None:
        if query.spec is not None:
            query.subscription = Subscription(
                self, query.query_id, dependency_of(query.spec, query.args)
            )
            hub.add(query.subscription)

    def _unwatch(self, query: Query) -> None:
        if query.subscription is not None:
            hub.discard(query.subscription)
            query.subscription = None

    async def credentials_changed(self) -> None:
        """A key was revoked, a person signed out, disabled or given another role: look again."""
        identity = self.pending.identity if self.pending.identity_changed else self.identity
        if identity is None or self.closed:
            return
        caller = recheck(identity)
        if caller is None:
            if self._actions:  # e.g. the auth:signOut that ended it: its answer goes first
                await asyncio.wait(list(self._actions), timeout=5)
            await self.auth_error("The session or key has ended: sign in again", False)
        elif caller != identity.caller:
            identity.caller = caller
            self.rerun_all()

    async def _heartbeat(self) -> None:
        last_check = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            if now - self._last_sent >= PING_AFTER_SECONDS:
                await self.send(protocol.PING)
            identity = self.identity
            expired = identity is not None and identity.expires_at is not None
            if expired and identity.expires_at <= time.time():
                await self.auth_error("The token has expired", False)
                return
            if now - last_check >= RECHECK_CREDENTIAL_SECONDS:
                last_check = now
                await self.credentials_changed()

    # --- transitions ----------------------------------------------------------------------------

    async def _updater(self) -> None:
        last = 0.0
        while True:
            await self._wake.wait()
            if self.closed:
                return
            # Re-runs caused by other writes (an agent streaming into a watched thread) go at
            # most every COALESCE_SECONDS; what the client waits on (its query set, identity, a
            # mutation's covering transition) goes at once.
            wait = last + COALESCE_SECONDS - time.monotonic()
            if wait > 0 and not self.must_send:
                await asyncio.sleep(wait)
            self._wake.clear()
            last = time.monotonic()
            try:
                await self._transition()
            except (sa_exc.DBAPIError, Unavailable):
                log.warning("sync: the database could not answer; closing for a reconnect")
                await self.close(protocol.CLOSE_INTERNAL, "InternalServerError")
                return

    async def _transition(self) -> None:
        pending, self.pending = self.pending, Pending()
        end_query_set, end_identity = self.received_query_set, self.received_identity
        must_send, self.must_send = self.must_send, False
        modifications: list[dict[str, Any]] = []
        rerun, fresh = self.dirty, self.fresh
        self.dirty, self.fresh = set(), set()
        for query_id in pending.removes:
            query = self.queries.pop(query_id, None)
            if query is not None:
                self._unwatch(query)
            rerun.discard(query_id)
            modifications.append(protocol.query_removed(query_id))
        for query in pending.adds:
            old = self.queries.pop(query.query_id, None)
            if old is not None:
                self._unwatch(old)
            self.queries[query.query_id] = query
            self._watch(query)
            rerun.add(query.query_id)
            fresh.add(query.query_id)
        if pending.identity_changed:
            self.identity = pending.identity
            rerun.update(self.queries)
            fresh.update(self.queries)
        caller = None if self.identity is None else self.identity.caller
        # Both before the snapshot: every commit up to ts is visible in it, and so is every
        # commit announced up to this generation (the shared results' too).
        generation = hub.generation
        ts = clock.now()
        targets = [self.queries[qid] for qid in sorted(rerun) if qid in self.queries]
        outcomes = await self._outcomes(targets, caller, fresh, generation)
        if self.closed:
            return
        texts = [json.dumps(modification) for modification in modifications]
        for query, result in zip(targets, outcomes, strict=True):
            update = self._modification(query, result)
            if update is not None:
                texts.append(update)
        if not texts and not must_send:
            return
        end = (end_query_set, end_identity, ts)
        text = protocol.transition_text(self.version, end, texts, self.skew)
        self.version = end
        await self.send_text(text)

    async def _outcomes(
        self, queries: list[Query], caller: Caller | None, fresh: set[int], generation: int
    ) -> list[Outcome]:
        """The transition's results: all shared ones of `generation` when every query may take
        one, else all read here in one snapshot (offering to share what others may take)."""
        keys: dict[int, Any] = {}
        if caller is not None:
            keys = {
                q.query_id: sharing_key(q.shared_as, caller)
                for q in queries
                if q.shared_as is not None and q.error is None
            }
        if queries and len(keys) == len(queries) and not fresh.intersection(keys):
            futures = [shared.lookup(generation, keys[q.query_id]) for q in queries]
            found = all(future is not None for future in futures)
            # One snapshot per transition: results other sockets read in different snapshots
            # (a commit landing between them, not yet announced) are not combined.
            if found and shared.one_snapshot([keys[q.query_id] for q in queries]):
                # Shielded: a socket closed while it waits must not cancel the others' result.
                results = [await asyncio.shield(future) for future in futures]
                if all(result is not None for result in results):
                    shared.reuses += len(results)
                    return results
        claimed = {}
        snapshot = object()
        for query_id, key in keys.items():
            future = shared.claim(generation, key, snapshot)  # None if another socket is reading it
            if future is not None:
                claimed[query_id] = future
        try:
            outcomes = await self._read(queries, caller)
        except BaseException:  # failed or cancelled: the sockets waiting read for themselves
            for future in claimed.values():
                if not future.done():
                    future.set_result(None)
            raise
        for query, result in zip(queries, outcomes, strict=True):
            future = claimed.get(query.query_id)
            if future is not None and not future.done():
                future.set_result(result)
        return outcomes

    async def _read(self, queries: list[Query], caller: Caller | None) -> list[Outcome]:
        """Every query of one transition in one read transaction: one snapshot for all. It runs
        in the query threads: 500 sockets' reads must not stop the event loop meanwhile."""
        outcomes: list[Outcome] = []
        runnable = [q for q in queries if q.error is None and caller is not None]
        results: dict[int, tuple[bool, Any]] = {}
        while runnable:
            runnable = await off_loop(self._read_snapshot, runnable, caller, results)
        for query in queries:
            if query.error is not None:
                outcomes.append(failure(query.error))
            elif caller is None:
                outcomes.append(failure(FunctionError(UNAUTHENTICATED)))
            else:
                outcomes.append(outcome(*results[query.query_id]))
        return outcomes

    @staticmethod
    def _read_snapshot(
        queries: list[Query], caller: Caller, results: dict[int, tuple[bool, Any]]
    ) -> list[Query]:
        """Runs the queries in one read transaction. A query the database refuses (which aborts
        a PostgreSQL transaction) fails alone: the ones after it are returned to run again."""
        engine = get_engine()
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                for index, query in enumerate(queries):
                    try:
                        value = run_query_on(conn, query.spec, query.args, caller)
                    except FunctionError as exc:
                        results[query.query_id] = (False, exc)
                        continue
                    except sa_exc.DBAPIError as exc:
                        if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError):
                            raise  # the database is unreachable: the socket reconnects
                        refused = f"The database refused the query: {type(exc.orig).__name__}"
                        results[query.query_id] = (False, FunctionError(refused))
                        return queries[index + 1 :]
                    results[query.query_id] = (True, value)
        return []

    @staticmethod
    def _modification(query: Query, result: Outcome) -> str | None:
        """The query's modification as JSON text, None if its value is the one last sent."""
        if result.digest == query.last_hash:
            return None
        query.last_hash = result.digest
        if result.ok:
            return protocol.query_updated_text(query.query_id, result.text, query.journal)
        error = result.value
        failed = protocol.query_failed(query.query_id, error.message, query.journal, error.data)
        return json.dumps(failed)


def _decoded(args: list) -> Any:
    """Arguments arrive as Convex-encoded JSON ({"$integer": ...} for bigints, and so on)."""
    return decode_convex_json(args[0])


# Every open socket of this process, for credential changes.
sessions: set[SyncSession] = set()


def _on_credentials_changed(_topic: str, _payload: dict[str, Any]) -> None:
    if not sessions:
        return
    for session in list(sessions):
        asyncio.get_running_loop().create_task(session.credentials_changed())


bus.add_listener(CREDENTIALS_CHANGED, _on_credentials_changed)


async def sync_endpoint(websocket: WebSocket) -> None:
    await SyncSession(websocket).run()
