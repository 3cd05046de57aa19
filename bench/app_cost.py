"""CPU cost of one messages:create inside the application, without any server or network:
the bare yardstick app, Threadline's API app, and Threadline behind Reflex's own ASGI layers,
each driven in-process by batches of concurrent requests (--batch, 50). Prints microseconds per
request.

    .venv/bin/python bench/app_cost.py [--requests 5000] [--batch 50] [--threads 200]
                                       [--postgres postgresql://...]

--batch is how many requests are in flight together (and so how many share a commit): wrk's 50
connections gave the server's writer batches of about 14 on average (2026-12-02), since the rest
are still on their way through granian when a batch starts. The heap is frozen and the collector
set as the server does it (api/http.py freeze_startup_heap).

Server-level figures (bench/ingest.py) add granian's and the kernel's share, which is the same
for every app; this isolates the part Threadline's code controls.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def drive(
    app, bodies: list[bytes], headers: list[tuple[bytes, bytes]], batch: int = 50
) -> float:
    async def one(body: bytes) -> None:
        sent = False

        async def receive():
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status = []

        async def send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/api/mutation",
            "raw_path": b"/api/mutation",
            "query_string": b"",
            "root_path": "",
            "headers": headers + [(b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 3000),
        }
        await app(scope, receive, send)
        assert status == [200], status

    start = time.process_time()
    for offset in range(0, len(bodies), batch):
        await asyncio.gather(*[one(body) for body in bodies[offset : offset + batch]])
    return (time.process_time() - start) / len(bodies) * 1e6


def _per_call(function, count: int) -> float:
    start = time.process_time()
    for _ in range(count):
        function()
    return (time.process_time() - start) / count * 1e6


async def stages(
    key: str, threads: list[str], bodies: list[bytes], lane_total: float, batch: int
) -> None:
    """The ingest lane's CPU per request by stage, each stage timed alone (µs)."""
    import orjson

    from api import auth, credentials
    from api.db import get_engine
    from api.functions.messages import create_many
    from api.ingest import _plain_create_args
    from api.registry import REGISTRY, Context, check_allowed, next_creation_time
    from api.writer import MEMO

    count = 20_000
    credential = auth.parse_authorization(f"Bearer {key}")
    caller = await credentials.caller_for(credential)
    spec = REGISTRY["messages:create"]

    async def authenticate() -> float:
        start = time.process_time()
        for _ in range(count):
            await credentials.caller_for(credential)
        return (time.process_time() - start) / count * 1e6

    figures = {
        "auth (cached credential)": await authenticate(),
        "decode + validate (orjson, lane checks)": _per_call(
            lambda: _plain_create_args(orjson.loads(bodies[0])), count
        ),
        "registry + permission": _per_call(lambda: check_allowed(spec, caller), count),
        "answer (encode)": _per_call(
            lambda: orjson.dumps({"status": "success", "value": "msg_x", "logLines": []}), count
        ),
    }
    # SQL and commit: the batch path for `batch` calls in one transaction, as the SQLite writer
    # runs it: its memo knows the threads (after their first message), so only the insert runs;
    # the first figure is the same batch with the threads read (a memo emptied, or PostgreSQL).
    engine = get_engine()
    rounds = 100
    memo: dict = {}

    def timed(remember: bool) -> tuple[float, float]:
        sql = commit = 0.0
        for offset in range(rounds):
            start_at = (offset * batch) % (len(bodies) - batch)
            args = [_plain_create_args(orjson.loads(body)) for body in bodies[start_at:][:batch]]
            with engine.connect().execution_options(writer=True) as conn:
                transaction = conn.begin()
                if remember:
                    conn.info[MEMO] = memo
                start = time.process_time()
                create_many(
                    [(Context(conn=conn, caller=caller, now=next_creation_time()), a) for a in args]
                )
                sql += time.process_time() - start
                conn.info.pop(MEMO, None)
                start = time.process_time()
                transaction.commit()
                commit += time.process_time() - start
        return sql / rounds / batch * 1e6, commit / rounds / batch * 1e6

    cold, _ = timed(remember=False)
    sqlite = engine.dialect.name == "sqlite"  # PostgreSQL's writer has no memo
    timed(remember=sqlite)  # the memo learns every thread
    known = "insert, threads known" if sqlite else "lock + highest orders + insert"
    (
        figures[f"SQL ({known}, batch of {batch})"],
        figures[f"commit (one per batch of {batch})"],
    ) = timed(remember=sqlite)
    measured = sum(figures.values())
    figures["rest: ASGI calls, queue, futures, batching"] = lane_total - measured
    print("\ningest lane, CPU per request by stage (in-process, no server):")
    for name, micros in figures.items():
        print(f"  {name:<52} {micros:7.1f} µs")
    print(f"  {'total (ingest lane above)':<52} {lane_total:7.1f} µs")
    print(f"  (SQL with the threads read, no memo: {cold:.1f} µs)")


def _postgres_database(url: str) -> tuple[str, Callable[[], None]]:
    """A fresh database on the server at `url`, and the function that drops it."""
    import sqlalchemy as sa

    name = f"threadline_cost_{uuid.uuid4().hex[:8]}"
    base = sa.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        from api.db import reset_engines

        reset_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument(
        "--postgres", help="PostgreSQL URL of a server to create a scratch database on"
    )
    parser.add_argument("--batch", type=int, default=50, help="requests in flight together")
    parser.add_argument("--threads", type=int, default=200, help="threads posted into")
    options = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="threadline-appcost-")
    dropped = None
    if options.postgres:
        os.environ["DATABASE_URL"], dropped = _postgres_database(options.postgres)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{scratch}/cost.db"

    from api import migrations
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.settings import get_settings

    migrations.upgrade(get_settings().sqlalchemy_url)

    async def run() -> None:
        key = (await call("apiKeys:create", {"name": "cost"}, CLI_CALLER))["key"]
        count = options.threads
        threads = [await call("threads:create", {"title": "t"}, CLI_CALLER) for _ in range(count)]
        content = ("Streaming assistant output, token by token. " * 12)[:500]
        bodies = [
            json.dumps(
                {
                    "path": "messages:create",
                    "args": {
                        "threadId": threads[i % count],
                        "role": "assistant",
                        "content": content,
                    },
                }
            ).encode()
            for i in range(options.requests)
        ]
        headers = [
            (b"authorization", f"Bearer {key}".encode()),
            (b"content-type", b"application/json"),
        ]

        from api.http import create_api
        from api.ingest import IngestFront
        from bench.bare_app import create_app

        apps = {
            "bare": create_app(),
            "threadline api": create_api(),
            "ingest lane": IngestFront(create_api()),
        }
        for app in apps.values():
            await drive(app, bodies[:500], headers)  # warm-up
        from api.http import freeze_startup_heap

        freeze_startup_heap()  # as the server does once it has loaded
        batch = options.batch
        figures = {name: await drive(app, bodies, headers, batch) for name, app in apps.items()}
        for name, micros in figures.items():
            print(f"{name:<16} {micros:8.1f} µs CPU per request")
        for name in ("threadline api", "ingest lane"):
            print(f"{name} / bare = {figures[name] / figures['bare']:.2f}x")
        await stages(key, threads, bodies, figures["ingest lane"], batch)

    import uvloop  # the loop granian serves with in production

    try:
        uvloop.run(run())
    finally:
        if dropped is not None:
            dropped()
        shutil.rmtree(scratch, ignore_errors=True)
    print("command: .venv/bin/python bench/app_cost.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
