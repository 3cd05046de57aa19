"""Fan-out: mutation -> frame received by many lightweight protocol clients, and the server's
memory per connected reviewer. No browsers: the clients speak the wire protocols themselves,
from a process of their own, so the figures are the server's.

Two protocols:

- "console": the Reflex console's socket (socket.io at /_event, python-socketio's AsyncClient).
  Each client is one signed-in reviewer tab: its own session (the HttpOnly `threadline_session`
  cookie in the websocket handshake, as the browser sends it), its own client token (`?token=`),
  and the hydrate event of /approvals in the CONNECT packet, as Reflex's frontend sends it. The
  page's on_load registers the tab in `app.state.live_queue`; the client then waits for the
  state deltas of `PendingQueue` (its `requests` field) that carry a new approval request.
- "sync": the Convex sync protocol (/api/{version}/sync, aiohttp websockets). Each client
  authenticates with its own reviewer session token and subscribes to `approvalRequests:list`
  (pending) or to the newest page of `messages:list` of one thread; it waits for the Transition
  whose value holds the new document.

A probe then creates `--requests` approval requests (or messages) over HTTP with an API key, one
at a time, and times from just before each POST until every client has the frame that shows it
(clock of the client process, which does both). Memory: the server's RSS (the whole process
tree) after a few warm-up clients, and again once all N are connected and loaded, divided by N.
CPU/doc: the server's CPU time per document while the probe runs, its push to N clients included
(steadier than the latencies on a shared machine).

    .venv/bin/python bench/fanout.py                    # 50 and 500, both protocols, SQLite
    .venv/bin/python bench/fanout.py --clients 50 500 --protocols console sync-approvals
    options: --requests 10 --pending 50 --postgres URL
bench/ingest.py --fanout prints the same table as part of the ingest benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATE_ROOT = "reflex___state____state"
EVENT_NAMESPACE = "/_event"
# The state Reflex names after app.state.PendingQueue: its delta key ends with this.
PENDING_QUEUE = "pending_queue"
SYNC_VERSION = "1.48.0"
PROTOCOLS = ("console", "sync-approvals", "sync-messages")
REVIEWER_PASSWORD = "fanout-bench-password-1"
CONNECT_PARALLEL = 20
WAIT_SECONDS = 20.0


# --- the clients (run in the client process) -------------------------------------------------


def _field(substate: dict, name: str):
    """A var of a Reflex state delta: Reflex suffixes field names (`requests_rx_state_`)."""
    for key, value in substate.items():
        if key == name or key.split("_rx_state_")[0] == name:
            return value
    return None


@dataclass
class Client:
    """What every protocol client keeps: the ids it has been shown, and who waits for one."""

    ids: set[str] = field(default_factory=set)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: dict[str, asyncio.Future] = field(default_factory=dict)
    error: str = ""

    def saw(self, ids: Iterable[str]) -> None:
        now = time.perf_counter()
        for doc_id in ids:
            self.ids.add(doc_id)
            future = self.waiting.pop(doc_id, None)
            if future is not None and not future.done():
                future.set_result(now)

    def expect(self, doc_id: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        if doc_id in self.ids:
            future.set_result(time.perf_counter())
        else:
            self.waiting[doc_id] = future
        return future


class ConsoleTab(Client):
    """One reviewer tab on /approvals, over Reflex's socket.io protocol."""

    def __init__(self, url: str, session_token: str, path: str = "/approvals") -> None:
        super().__init__()
        self.url = url
        self.session_token = session_token
        self.path = path
        self.tab = str(uuid.uuid4())
        self.pending_ids: list[str] = []  # the computed var, as last sent
        self.sio = None

    def on_event(self, update: dict) -> None:
        delta = update.get("delta") or {}
        for name, substate in delta.items():
            if not name.endswith(PENDING_QUEUE) or not isinstance(substate, dict):
                continue
            requests = _field(substate, "requests")
            if isinstance(requests, list):
                self.saw(row.get("_id") for row in requests if isinstance(row, dict))
            pending_ids = _field(substate, "pending_ids")
            if isinstance(pending_ids, list):
                self.pending_ids = pending_ids
            if _field(substate, "loaded") is True:
                self.loaded.set()

    async def connect(self) -> None:
        import socketio

        self.sio = socketio.AsyncClient(reconnection=False)
        # Reflex's frontend connects to <backend>/_event: that is the socket.io path and also
        # the namespace (the URL's path), where the events go.
        self.sio.on("event", self.on_event, namespace=EVENT_NAMESPACE)
        boot = {
            "name": f"{STATE_ROOT}.hydrate_and_load",
            "payload": {},
            "router_data": {"pathname": self.path, "asPath": self.path},
        }
        await self.sio.connect(
            f"{self.url}?token={self.tab}",
            headers={"Cookie": f"threadline_session={self.session_token}"},
            auth={"event": boot},
            namespaces=[EVENT_NAMESPACE],
            transports=["websocket"],
            socketio_path="/_event",
            wait_timeout=30,
        )

    async def close(self) -> None:
        if self.sio is not None:
            await self.sio.disconnect()


class SyncSubscriber(Client):
    """One Convex sync client with one subscription: pending approval requests, or the newest
    page of a thread's messages."""

    def __init__(self, url: str, session_token: str, query: str, thread_id: str = "") -> None:
        super().__init__()
        self.url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self.session_token = session_token
        if query == "approvals":
            self.udf, self.args = "approvalRequests:list", {"status": "pending"}
        else:
            page = {"numItems": 20, "cursor": None}
            self.udf, self.args = "messages:list", {"threadId": thread_id, "paginationOpts": page}
        self.http = None
        self.ws = None
        self.reader: asyncio.Task | None = None

    async def connect(self) -> None:
        import aiohttp

        self.http = aiohttp.ClientSession()
        self.ws = await self.http.ws_connect(
            f"{self.url}/api/{SYNC_VERSION}/sync", max_msg_size=64 * 1024 * 1024
        )
        frames = [
            {
                "type": "Connect",
                "sessionId": str(uuid.uuid4()),
                "connectionCount": 0,
                "lastCloseReason": "InitialConnect",
                "clientTs": int(time.time() * 1000),
            },
            {
                "type": "Authenticate",
                "tokenType": "User",
                "value": self.session_token,
                "baseVersion": 0,
            },
            {
                "type": "ModifyQuerySet",
                "baseVersion": 0,
                "newVersion": 1,
                "modifications": [
                    {"type": "Add", "queryId": 0, "udfPath": self.udf, "args": [self.args]}
                ],
            },
        ]
        for frame in frames:
            await self.ws.send_str(json.dumps(frame))
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        import aiohttp

        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(message.data)
            kind = frame.get("type")
            if kind in ("AuthError", "FatalError"):
                self.error = f"{kind}: {frame.get('error') or frame}"
                self.loaded.set()
                return
            if kind != "Transition":
                continue
            for change in frame.get("modifications", []):
                if change.get("type") == "QueryFailed":
                    self.error = f"QueryFailed: {change.get('errorMessage')}"
                if change.get("type") != "QueryUpdated":
                    continue
                value = change.get("value")
                docs = value.get("page", []) if isinstance(value, dict) else value or []
                self.saw(doc.get("_id") for doc in docs if isinstance(doc, dict))
                self.loaded.set()

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self.http is not None:
            await self.http.close()


def make_client(spec: dict, token: str) -> Client:
    if spec["protocol"] == "console":
        return ConsoleTab(spec["url"], token)
    query = spec["protocol"].removeprefix("sync-")
    return SyncSubscriber(spec["url"], token, query, spec.get("threadId", ""))


async def connect_all(spec: dict, tokens: list[str]) -> tuple[list[Client], list[str]]:
    """Connects one client per session token, CONNECT_PARALLEL at a time; answers the clients
    whose first value arrived, and the errors of the others."""
    limit = asyncio.Semaphore(CONNECT_PARALLEL)
    clients = [make_client(spec, token) for token in tokens]

    async def start(client: Client) -> None:
        async with limit:
            try:
                await client.connect()
                await asyncio.wait_for(client.loaded.wait(), WAIT_SECONDS)
            except Exception as exc:  # reported, not raised: the count is the figure
                client.error = client.error or f"{type(exc).__name__}: {exc}"

    await asyncio.gather(*(start(client) for client in clients))
    ok = [client for client in clients if not client.error and client.loaded.is_set()]
    failed = [client for client in clients if client not in ok]
    await asyncio.gather(*(client.close() for client in failed), return_exceptions=True)
    return ok, [client.error or "no first value" for client in failed]


async def probe(spec: dict, clients: list[Client], count: int, pause: float) -> dict:
    """Creates `count` documents over HTTP, one at a time; per document, the time from just
    before its POST until each client has a frame holding it."""
    import httpx

    headers = {"Authorization": f"Bearer {spec['key']}"}
    if spec["protocol"] == "sync-messages":
        path = "messages:create"
        args = {"threadId": spec["threadId"], "role": "assistant", "content": "fan-out probe"}
    else:
        path = "approvalRequests:create"
        args = {"threadId": spec["threadId"], "planContent": "Plan: fan-out probe."}
    samples: list[float] = []
    per_request: list[float | None] = []  # the median of each document, in order
    missed = 0
    async with httpx.AsyncClient(base_url=spec["url"], timeout=30) as http:
        for _ in range(count):
            started = time.perf_counter()
            response = await http.post(
                "/api/mutation", json={"path": path, "args": args}, headers=headers
            )
            body = response.json() if response.status_code == 200 else {}
            if body.get("status") != "success":
                raise RuntimeError(f"{path} failed: {response.status_code} {response.text[:200]}")
            doc_id = body["value"]
            futures = [client.expect(doc_id) for client in clients]
            done, pending = await asyncio.wait(futures, timeout=WAIT_SECONDS)
            these = sorted((future.result() - started) * 1000 for future in done)
            samples += these
            per_request.append(these[len(these) // 2] if these else None)
            missed += len(pending)
            for future in pending:
                future.cancel()
            await asyncio.sleep(pause)
    return {"samples": samples, "missed": missed, "per_request": per_request}


async def client_process(spec: dict) -> None:
    """The client side: connect, say READY, wait for the go (the parent measures memory
    meanwhile), probe, print RESULT."""
    started = time.perf_counter()
    clients, errors = await connect_all(spec, spec["tokens"])
    ready = {
        "connected": len(clients),
        "failed": len(errors),
        "errors": sorted(set(errors))[:3],
        "seconds": time.perf_counter() - started,
    }
    print("READY " + json.dumps(ready), flush=True)
    try:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        result = await probe(spec, clients, spec["requests"], spec["pause"]) if clients else {}
        print("RESULT " + json.dumps(result), flush=True)
    finally:
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


# --- the measuring side (the bench process) ----------------------------------------------------


def reviewer_sessions(count: int, accounts: int = 10) -> list[str]:
    """`count` sessions of reviewers (round-robin over `accounts` reviewer accounts), signed in
    in-process against DATABASE_URL (what is measured is the fan-out, not the sign-in)."""
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.services import signin

    async def make() -> list[str]:
        emails = []
        for index in range(accounts):
            email = f"fanout-{uuid.uuid4().hex[:8]}-{index}@bench.example"
            await call(
                "users:create",
                {
                    "email": email,
                    "name": f"Fan-out reviewer {index}",
                    "role": "reviewer",
                    "password": REVIEWER_PASSWORD,
                },
                CLI_CALLER,
            )
            emails.append(email)
        tokens = []
        for index in range(count):
            signed = await signin.sign_in(emails[index % accounts], REVIEWER_PASSWORD)
            tokens.append(signed.token)
        return tokens

    return asyncio.run(make())


def server_rss(pid: int) -> int:
    """Resident memory of the server: the process and all its children (granian's workers)."""
    import psutil

    process = psutil.Process(pid)
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the server's process tree has used so far."""
    import psutil

    process = psutil.Process(pid)
    total = 0.0
    for member in [process, *process.children(recursive=True)]:
        try:
            times = member.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def _spawn(spec: dict, scratch: Path) -> subprocess.Popen:
    spec_file = scratch / f"fanout-{uuid.uuid4().hex[:8]}.json"
    spec_file.write_text(json.dumps(spec))
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bench/fanout.py"), "--client-process", str(spec_file)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def _read_line(process: subprocess.Popen, prefix: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the client process ended (exit {process.wait()}) before {prefix}")
        if line.startswith(prefix + " "):
            return json.loads(line[len(prefix) + 1 :])
    raise RuntimeError(f"no {prefix} from the client process within {timeout} s")


def measure(
    url: str,
    server_pid: int,
    protocol: str,
    tokens: list[str],
    key: str,
    thread_id: str,
    requests: int = 10,
    pause: float = 0.3,
    warm_tokens: list[str] | None = None,
) -> dict:
    """One fan-out measure with len(tokens) clients of `protocol`, in a process of their own."""
    base = {"url": url, "protocol": protocol, "key": key, "threadId": thread_id, "pause": pause}
    with tempfile.TemporaryDirectory(prefix="threadline-fanout-") as scratch:
        warm = None
        if warm_tokens:  # first connections warm code paths and caches: not per-client memory
            warm = _spawn({**base, "tokens": warm_tokens, "requests": 1}, Path(scratch))
            _read_line(warm, "READY", 120)
            warm.stdin.write("\n")
            warm.stdin.flush()
            _read_line(warm, "RESULT", 120)
        time.sleep(1)
        before = server_rss(server_pid)
        clients = _spawn({**base, "tokens": tokens, "requests": requests}, Path(scratch))
        try:
            ready = _read_line(clients, "READY", 60 + len(tokens))
            time.sleep(2)
            after = server_rss(server_pid)
            load = os.getloadavg()[0]
            cpu_before = server_cpu(server_pid)
            clients.stdin.write("\n")
            clients.stdin.flush()
            result = _read_line(clients, "RESULT", 60 + requests * (WAIT_SECONDS + 2))
            cpu = server_cpu(server_pid) - cpu_before
            clients.wait(timeout=60)
        finally:
            for process in (clients, warm):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()
    samples = result.get("samples", [])
    connected = ready["connected"]
    return {
        "protocol": protocol,
        "clients": len(tokens),
        "connected": connected,
        "failed": ready["failed"],
        "errors": ready["errors"],
        "connect_s": ready["seconds"],
        "samples": len(samples),
        "missed": result.get("missed", 0),
        "p50_ms": _percentile(samples, 0.5),
        "p95_ms": _percentile(samples, 0.95),
        "max_ms": max(samples) if samples else float("nan"),
        "mib_per_client": (after - before) / max(1, connected) / (1024 * 1024),
        "rss_before_mib": before / (1024 * 1024),
        "rss_after_mib": after / (1024 * 1024),
        "load": load,
        "load_after": os.getloadavg()[0],
        "per_request_ms": result.get("per_request", []),
        # server CPU per document while the probe ran (its pauses included): what the fan-out
        # costs the server, steadier on a shared machine than the latencies
        "cpu_ms_per_doc": cpu * 1000 / max(1, requests),
    }


GOALS = {50: 250, 500: 1000}


def print_table(results: list[dict], command: str, verbose: bool = False) -> None:
    print(
        "\nFan-out: mutation -> frame received, lightweight protocol clients "
        "(goal p95 ≤ 250 ms at 50, ≤ 1 s at 500; ≤ 0.5 MiB server memory per client)"
    )
    print(
        f"{'protocol':<16} {'clients':>7} {'ok':>5} {'frames':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'max ms':>7} {'MiB/client':>10} {'CPU/doc':>7} {'load':>5}  goal"
    )
    for r in results:
        goal = GOALS.get(r["clients"])
        verdict = ""
        if goal is not None:
            p95_ok = r["p95_ms"] <= goal and not r["missed"] and r["connected"] == r["clients"]
            verdict = f"p95 {'met' if p95_ok else 'NOT met'}, "
        verdict += f"memory {'met' if r['mib_per_client'] <= 0.5 else 'NOT met'}"
        print(
            f"{r['protocol']:<16} {r['clients']:>7} {r['connected']:>5} {r['samples']:>7} "
            f"{r['p50_ms']:>7.0f} {r['p95_ms']:>7.0f} {r['max_ms']:>7.0f} "
            f"{r['mib_per_client']:>10.3f} {r['cpu_ms_per_doc']:>7.0f} {r['load']:>5.1f}  {verdict}"
        )
        if verbose:
            medians = ", ".join(f"{m:.0f}" for m in r["per_request_ms"] if m is not None)
            print(f"  median of each document in turn (ms): {medians}")
        if r["missed"] or r["failed"]:
            print(f"  {r['failed']} failed to connect {r['errors']}, {r['missed']} frames missed")
    print("CPU/doc: the server's CPU milliseconds per document created, its push included")
    print(f"command: {command}")


def run_all(
    url: str,
    server_pid: int,
    key: str,
    thread_id: str,
    sizes: list[int],
    protocols: list[str],
    requests: int,
) -> list[dict]:
    """Every protocol at every size against one running server (sessions made here)."""
    results = []
    for protocol in protocols:
        for size in sizes:
            tokens = reviewer_sessions(size + 3)
            results.append(
                measure(
                    url,
                    server_pid,
                    protocol,
                    tokens[:size],
                    key,
                    thread_id,
                    requests,
                    warm_tokens=tokens[size:],
                )
            )
            print(
                f"  {protocol} x {size}: p95 {results[-1]['p95_ms']:.0f} ms, "
                f"{results[-1]['mib_per_client']:.3f} MiB/client",
                flush=True,
            )
    return results


def prepare(url: str, pending: int) -> tuple[str, str]:
    """Migrate; an API key, a thread, and `pending` approval requests already waiting (what the
    inbox carries in every change)."""
    os.environ["DATABASE_URL"] = url
    from api import migrations
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.settings import get_settings

    get_settings.cache_clear()
    migrations.upgrade(get_settings().sqlalchemy_url)

    async def setup() -> tuple[str, str]:
        key = (await call("apiKeys:create", {"name": "fanout"}, CLI_CALLER))["key"]
        thread = await call("threads:create", {"title": "fan-out bench"}, CLI_CALLER)
        for index in range(pending):
            await call(
                "approvalRequests:create",
                {"threadId": thread, "planContent": f"Plan {index}: wait for a person."},
                CLI_CALLER,
            )
        return key, thread

    return asyncio.run(setup())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client-process", help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 500])
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    parser.add_argument("--requests", type=int, default=10, help="documents created per size")
    parser.add_argument("--pending", type=int, default=50, help="requests already pending")
    parser.add_argument("--postgres", help="PostgreSQL URL (a scratch database is made in it)")
    parser.add_argument("--verbose", action="store_true", help="each document's median too")
    parser.add_argument(
        "--server-env", nargs="*", default=[], help="NAME=VALUE for the server, to compare settings"
    )
    options = parser.parse_args()
    if options.client_process:
        spec = json.loads(Path(options.client_process).read_text())
        asyncio.run(client_process(spec))
        return

    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    from bench._servers import threadline_server_process

    with tempfile.TemporaryDirectory(prefix="threadline-fanout-bench-") as scratch:
        admin = name = None
        if options.postgres:
            import sqlalchemy as sa

            name = f"threadline_bench_{uuid.uuid4().hex[:8]}"
            base = sa.make_url(
                options.postgres.replace("postgresql://", "postgresql+psycopg://", 1)
            )
            admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            db_url = base.set(database=name).render_as_string(hide_password=False)
        else:
            db_url = f"sqlite:///{scratch}/bench.db"
        key, thread = prepare(db_url, options.pending)
        env = {"DATABASE_URL": db_url, "BCRYPT_ROUNDS": "4"}
        env |= dict(item.split("=", 1) for item in options.server_env)
        try:
            with threadline_server_process(env) as (url, process):
                results = run_all(
                    url,
                    process.pid,
                    key,
                    thread,
                    options.clients,
                    options.protocols,
                    options.requests,
                )
        finally:
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    database = "PostgreSQL" if options.postgres else "SQLite"
    print(f"\n{database}, 1 worker, {os.cpu_count()} cores, {options.pending} requests pending")
    command = f".venv/bin/python bench/fanout.py {' '.join(sys.argv[1:])}".rstrip()
    print_table(results, command, options.verbose)


if __name__ == "__main__":
    main()
