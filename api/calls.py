"""Calling a registered function: the one entry point for HTTP requests and the console.

    value = await call("artifacts:create", {"threadId": ..., ...}, caller)

Validates the arguments, checks that the caller may call the function, then runs a query on a
read connection or hands a mutation to the group-commit writer. Raises FunctionError (the caller
sees `status: error`) or Unavailable (nothing committed; retry).

Queries run in a small pool of threads, never on the event loop: their cost grows with what
writers stored (`messages:list` of a 200,000-message thread, every 8 MiB version of an artifact),
and on the loop one such read stopped the API, the console and the group-commit writer together.
The pool is bounded (QUERY_THREADS) so that heavy reads queue among themselves and cannot take
every database connection.
"""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

# Importing the functions package registers every function.
import api.functions  # noqa: F401
from api.db import get_engine
from api.errors import FunctionError, Unavailable
from api.events import bus
from api.registry import (
    Caller,
    Context,
    FunctionSpec,
    check_allowed,
    has_unstorable_text,
    lookup,
    next_creation_time,
    parse_args,
)
from api.settings import get_settings
from api.writer import get_writer
from models import IdempotencyRecord

# A long-poll re-reads at least this often even if no event arrives (e.g. a decision made by a
# worker that could not publish); events normally end the wait long before.
LONG_POLL_RECHECK_SECONDS = 5.0
MAX_IDEMPOTENCY_KEY = 200
# Threads that run queries. Fewer than the engine's pooled connections (SQLite: 5 + 10 overflow;
# PostgreSQL: 10 + 20), so /api/health and the writer always find one.
QUERY_THREADS = 4
_query_pool = ThreadPoolExecutor(max_workers=QUERY_THREADS, thread_name_prefix="threadline-query")


async def off_loop(function, *args: Any) -> Any:
    """Runs `function(*args)` in the query threads and waits for it without blocking the loop."""
    return await asyncio.get_running_loop().run_in_executor(_query_pool, function, *args)


async def call(
    path: object,
    raw_args: object,
    caller: Caller,
    *,
    kind: Literal["query", "mutation"] | None = None,
    idempotency_key: str | None = None,
) -> Any:
    spec = lookup(path, kind)
    check_allowed(spec, caller)
    args = parse_args(spec, raw_args)
    await _ensure_event_relay()
    if spec.kind == "mutation":
        return await _run_mutation(spec, args, caller, idempotency_key)
    if idempotency_key is not None:
        raise FunctionError("Idempotency-Key applies to mutations only")
    return await _run_query(spec, args, caller)


async def call_validated(
    spec: FunctionSpec, args: Any, caller: Caller, idempotency_key: str | None = None
) -> Any:
    """A mutation whose caller is checked and whose arguments are already valid (the ingest
    fast lane, api/ingest.py): the rest of `call`, the same write."""
    await _ensure_event_relay()
    return await _run_mutation(spec, args, caller, idempotency_key)


async def _run_mutation(
    spec: FunctionSpec, args: Any, caller: Caller, idempotency_key: str | None
) -> Any:
    if idempotency_key is not None and spec.prepare is not None:
        # A retry replays the first result; it must not redo the preparation (which may check
        # a password that the first call changed).
        with get_engine().connect() as conn:
            stored = conn.execute(
                _STORED_RESULT, {"b_caller": caller.ref, "b_key": idempotency_key}
            )
            stored = stored.first()
        if stored is not None:
            return _replay(spec, idempotency_key, stored)
    if spec.prepare is not None:
        await spec.prepare(args, caller)
    if idempotency_key is not None:
        if spec.returns_secret:
            raise FunctionError(
                f"{spec.path} shows a secret once and cannot take an Idempotency-Key"
            )
        if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
            raise FunctionError(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
        if has_unstorable_text(idempotency_key):
            raise FunctionError(
                "Idempotency-Key must not contain NUL characters or unpaired surrogates"
            )

    def run(conn):
        if idempotency_key is not None:
            stored = conn.execute(
                _STORED_RESULT, {"b_caller": caller.ref, "b_key": idempotency_key}
            )
            stored = stored.first()
            if stored is not None:
                return _replay(spec, idempotency_key, stored), []
        ctx = Context(conn=conn, caller=caller, now=next_creation_time())
        result = spec.handler(ctx, args)
        _check_serializable(result)
        if idempotency_key is not None:
            conn.execute(_RECORD_RESULT, _record(spec, caller, idempotency_key, result, ctx.now))
        return result, ctx._events

    writer = get_writer(get_engine(), get_settings().max_batch)
    _purge_old_idempotency_records(writer)
    thread_id = getattr(args, "threadId", None)
    touches = (spec.path.split(":", 1)[0], thread_id if isinstance(thread_id, str) else None)
    if spec.batch is not None and (spec.batchable is None or spec.batchable(args)):
        return await writer.submit(
            run,
            group=spec.path,
            run_group=_run_group,
            item=(spec, args, caller, idempotency_key),
            touches=touches,
            memo_safe=spec.batch_keeps_memo,
        )
    return await writer.submit(run, touches=touches)


_records = IdempotencyRecord.__table__
_STORED_RESULT = sa.select(_records.c.path, _records.c.result).where(
    _records.c.caller == sa.bindparam("b_caller"), _records.c.key == sa.bindparam("b_key")
)
_RECORD_RESULT = sa.insert(_records)


_next_purge = 0.0
PURGE_EVERY_SECONDS = 600


def _purge_old_idempotency_records(writer) -> None:
    """Forget Idempotency-Keys older than IDEMPOTENCY_TTL_SECONDS, at most every ten minutes."""
    global _next_purge
    now = time.monotonic()
    if now < _next_purge:
        return
    _next_purge = now + PURGE_EVERY_SECONDS
    cutoff = next_creation_time() - get_settings().idempotency_ttl_seconds * 1000

    def purge(conn):
        conn.execute(sa.delete(_records).where(_records.c.creation_time < cutoff))
        return None, []

    writer.submit_nowait(purge)


def _record(spec: FunctionSpec, caller: Caller, key: str, result: Any, now: float) -> dict:
    return {
        "caller": caller.ref,
        "key": key,
        "path": spec.path,
        "result": result,
        "creation_time": now,
    }


def _replay(spec: FunctionSpec, key: str, stored: Any) -> Any:
    if stored.path != spec.path:
        raise FunctionError(f"Idempotency-Key {key!r} was already used for {stored.path}")
    return stored.result


def _run_group(conn: sa.Connection, jobs: list) -> list:
    """Runs a batch's calls of one batchable mutation together (see api/writer.py)."""
    spec = jobs[0].item[0]
    outcomes: list[Any] = [None] * len(jobs)
    keys = [job.item[3] for job in jobs if job.item[3] is not None]
    if keys:
        stored = {
            (row.caller, row.key): row
            for row in conn.execute(
                sa.select(
                    _records.c.caller, _records.c.key, _records.c.path, _records.c.result
                ).where(_records.c.key.in_(keys))
            )
        }
        for index, job in enumerate(jobs):
            _spec, _args, caller, key = job.item
            row = stored.get((caller.ref, key)) if key is not None else None
            if row is not None:
                try:
                    outcomes[index] = (_replay(spec, key, row), [])
                except FunctionError as exc:
                    outcomes[index] = exc
    todo = [index for index, outcome in enumerate(outcomes) if outcome is None]
    contexts = [
        Context(conn=conn, caller=jobs[index].item[2], now=next_creation_time()) for index in todo
    ]
    results = spec.batch(
        [(ctx, jobs[index].item[1]) for ctx, index in zip(contexts, todo, strict=True)]
    )
    records = []
    for ctx, index, result in zip(contexts, todo, results, strict=True):
        if isinstance(result, FunctionError):
            outcomes[index] = result
            continue
        outcomes[index] = (result, ctx._events)
        key = jobs[index].item[3]
        if key is not None:
            records.append(_record(spec, ctx.caller, key, result, ctx.now))
    if records:
        # Two calls in this group with the same key collide here; the writer then runs the
        # group's calls one by one, and the second finds the first's record.
        conn.execute(_RECORD_RESULT, records)
    return outcomes


def prepare(
    path: object, raw_args: object, caller: Caller, kind: Literal["query", "mutation"] | None
) -> tuple[FunctionSpec, Any]:
    """The checks `call` makes before running anything: the function exists (and is of `kind`),
    the caller may call it, the arguments are valid. Raises FunctionError / NotAllowed."""
    spec = lookup(path, kind)
    check_allowed(spec, caller)
    return spec, parse_args(spec, raw_args)


def run_query_on(conn: sa.Connection, spec: FunctionSpec, args: Any, caller: Caller) -> Any:
    """A query on a connection the caller holds (a sync transition reads all its queries in one
    transaction, so that they see one snapshot). Never long-polls."""
    check_allowed(spec, caller)
    return spec.handler(Context(conn=conn, caller=caller, now=next_creation_time()), args)


async def _run_query(spec: FunctionSpec, args: Any, caller: Caller) -> Any:
    engine = get_engine()

    def read() -> Any:
        try:
            with engine.connect() as conn:
                ctx = Context(conn=conn, caller=caller, now=next_creation_time())
                return spec.handler(ctx, args)
        except sa_exc.DBAPIError as exc:
            if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError):
                raise Unavailable(f"the database could not answer: {exc.orig}") from None
            raise FunctionError(
                f"The database refused the query: {type(exc.orig).__name__}"
            ) from None

    async def read_async() -> Any:
        # On SQLite too: a read's cost grows with what writers stored (every message of a
        # 200,000-message thread), and on the loop it stopped the API, console and writer.
        return await off_loop(read)

    if spec.wait is None:
        return await read_async()
    topic, seconds, settled = spec.wait(args)
    if seconds <= 0:
        return await read_async()

    # Listen before the first read, so that a change landing in between is not missed.
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    listener = lambda _topic, _payload: changed.set()  # noqa: E731
    bus.add_listener(topic, listener)
    try:
        deadline = loop.time() + seconds
        while True:
            changed.clear()
            result = await read_async()
            remaining = deadline - loop.time()
            if settled(result) or remaining <= 0:
                return result
            try:
                await asyncio.wait_for(changed.wait(), min(remaining, LONG_POLL_RECHECK_SECONDS))
            except TimeoutError:
                pass
    finally:
        bus.remove_listener(topic, listener)


async def _ensure_event_relay() -> None:
    url = get_settings().redis_url
    if url:
        await bus.connect_redis(url)


def _check_serializable(value: Any) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:  # a bug in a function, not the caller's fault
        raise FunctionError(f"Internal error: result is not JSON ({exc})") from None
