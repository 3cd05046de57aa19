"""Ingest benchmark: Threadline's POST /api/mutation (the real server `make run` starts, console
included) against a bare Starlette endpoint that only parses the same JSON, both served by granian
with the same worker count, driven by the same wrk load in one run. One table:

- many threads / one new thread: req/s, p50, p99 of each, and the ratio to bare;
- a thread that already holds --deep messages (1,000,000): ratio to the new thread;
- ingest while reads run (messages:list pages of a --read-size (200,000) message thread every
  second, 50 approvalRequests:get long-polls, 5 console thread pages re-read every second through
  the functions the page calls): ratio to ingest alone;
- a fixed rate (open loop) for latency; the load average beside every figure;
- with --fanout: mutation -> frame received by 50 and 500 lightweight protocol clients (console
  socket tabs and Convex sync subscribers) and the server's memory per client (bench/fanout.py).

    .venv/bin/python bench/ingest.py                       # SQLite
    .venv/bin/python bench/ingest.py --postgres postgresql://postgres@127.0.0.1/test
    options: --duration 10 --connections 50 --threads 2000 --rate 500 --deep 1000000
             --read-size 200000 --workers 1 --redis redis://127.0.0.1:6379/0
             --workers 1 2 4: then the scaling table (req/s, CPU per request); with
             --ingest-only, the scaling table alone
             --fanout [--fanout-clients 50 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import fanout as fanout_bench  # noqa: E402
from bench._load import fixed_rate  # noqa: E402
from bench._servers import bare_server, bare_server_process, threadline_server_process  # noqa: E402

LUA = ROOT / "bench/wrk_messages.lua"


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
        if shutil.which("wrk") is None:
            subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
            subprocess.run(
                ["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True
            )
        return shutil.which("wrk") or "wrk"
    sys.exit("wrk is needed: apt-get install wrk")


def prepare_database(url: str, thread_count: int) -> tuple[str, list[str]]:
    """Migrate, create an API key and the threads to post into. Returns (key, thread ids)."""
    os.environ["DATABASE_URL"] = url
    from api import migrations
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.settings import get_settings

    get_settings.cache_clear()
    migrations.upgrade(get_settings().sqlalchemy_url)

    async def setup() -> tuple[str, list[str]]:
        key = (await call("apiKeys:create", {"name": "bench"}, CLI_CALLER))["key"]
        ids = await asyncio.gather(
            *[
                call("threads:create", {"title": f"bench {i}"}, CLI_CALLER)
                for i in range(thread_count)
            ]
        )
        return key, list(ids)

    return asyncio.run(setup())


def fill_thread(url: str, thread_id: str, count: int) -> None:
    """Store `count` messages in a thread straight through SQL (the write path is not measured
    here; this only makes the thread long)."""
    engine = sa.create_engine(url)
    content = ("Earlier output of a long agent run. " * 14)[:500]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    'INSERT INTO messages (id, creation_time, thread_id, role, content, "order") '
                    "SELECT 'msg_fill' || right(:t, 8) || lpad(i::text, 14, '0'), "
                    "1, :t, 'assistant', :c, i "
                    "FROM generate_series(0, :n - 1) AS i"
                ),
                {"t": thread_id, "c": content, "n": count},
            )
            conn.execute(sa.text("ANALYZE messages"))
        else:
            raw = conn.connection.driver_connection
            step = 50_000
            for start in range(0, count, step):
                raw.executemany(
                    'INSERT INTO messages (id, creation_time, thread_id, role, content, "order") '
                    "VALUES (?, 1, ?, 'assistant', ?, ?)",
                    (
                        (f"msg_fill{thread_id[-8:]}{i:014d}", thread_id, content, i)
                        for i in range(start, min(count, start + step))
                    ),
                )
    engine.dispose()


def create_approvals(count: int, thread_id: str) -> list[str]:
    from api.calls import call
    from api.cli import CLI_CALLER

    async def create() -> list[str]:
        args = {"threadId": thread_id, "planContent": "Plan: wait for a person."}
        return [await call("approvalRequests:create", args, CLI_CALLER) for _ in range(count)]

    return asyncio.run(create())


def run_wrk(
    wrk: str, url: str, threads_file: Path, key: str, duration: int, connections: int
) -> dict:
    command = [
        wrk,
        "-t2",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
        str(threads_file),
        key,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\{.*\})", output)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    result = json.loads(match.group(1))
    seconds = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / seconds
    result["load"] = os.getloadavg()[0]
    return result


async def side_load(
    url: str, key: str, seconds: float, read_thread: str, page_thread: str, approvals: list[str]
) -> dict:
    """The reads a busy installation adds to ingest, for `seconds`; returns their latencies."""
    headers = {"Authorization": f"Bearer {key}"}
    stop_at = time.monotonic() + seconds
    timings: dict[str, list[float]] = {"list": [], "page": [], "poll": []}
    errors = 0

    async def query(client, path: str, args: dict, timeout: float = 10) -> None:
        nonlocal errors
        response = await client.post(
            "/api/query", json={"path": path, "args": args}, headers=headers, timeout=timeout
        )
        if response.status_code != 200 or response.json().get("status") != "success":
            errors += 1

    async def every_second(client, name: str, calls) -> None:
        while time.monotonic() < stop_at:
            started = time.monotonic()
            for path, args in calls:
                await query(client, path, args)
            timings[name].append(time.monotonic() - started)
            await asyncio.sleep(max(0.0, 1 - (time.monotonic() - started)))

    async def long_poll(client, request_id: str) -> None:
        while time.monotonic() < stop_at:
            started = time.monotonic()
            wait_ms = max(100, int((stop_at - started) * 1000))
            await query(
                client,
                "approvalRequests:get",
                {"approvalRequestId": request_id, "waitMs": wait_ms},
                timeout=wait_ms / 1000 + 10,
            )
            timings["poll"].append(time.monotonic() - started)

    opts = {"numItems": 100, "cursor": None}
    side = {"numItems": 20, "cursor": None}
    page_calls = [
        ("threads:get", {"threadId": page_thread}),
        ("sessions:get", {"threadId": page_thread}),
        ("timeline:list", {"threadId": page_thread, "paginationOpts": {**opts, "numItems": 50}}),
        ("artifacts:list", {"threadId": page_thread, "paginationOpts": side}),
        ("approvalRequests:list", {"threadId": page_thread, "paginationOpts": side}),
    ]
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        tasks = [
            every_second(
                client,
                "list",
                [("messages:list", {"threadId": read_thread, "paginationOpts": opts})],
            ),
            *[every_second(client, "page", page_calls) for _ in range(5)],
            *[long_poll(client, request_id) for request_id in approvals],
        ]
        await asyncio.gather(*tasks)
    return {
        name: (len(values), _percentile(values, 0.5) * 1000, _percentile(values, 1.0) * 1000)
        for name, values in timings.items()
    } | {"errors": errors}


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def run_wrk_with_side_load(
    wrk: str, url: str, threads_file: Path, key: str, options, side
) -> tuple:
    """wrk in a thread while the side load runs on this event loop, for the same seconds."""
    outcome: dict = {}

    def ingest() -> None:
        outcome["wrk"] = run_wrk(wrk, url, threads_file, key, options.duration, options.connections)

    worker = threading.Thread(target=ingest)
    worker.start()
    reads = asyncio.run(side_load(url, key, options.duration, *side))
    worker.join()
    return outcome["wrk"], reads


def run_fixed_rate(url: str, key: str, thread_ids: list[str], rate: int, seconds: int) -> dict:
    content = ("Streaming assistant output, token by token. " * 12)[:500]

    def body(index: int) -> bytes:
        args = {
            "threadId": thread_ids[index % len(thread_ids)],
            "role": "assistant",
            "content": content,
        }
        return json.dumps({"path": "messages:create", "args": args}).encode()

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return asyncio.run(fixed_rate(url, rate, seconds, body, headers))


def count_messages(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one()
    engine.dispose()
    return count


def process_cpu(pids: set[int]) -> float:
    """CPU seconds (user + system) the live processes `pids` have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def tree(pid: int) -> set[int]:
    """`pid` and its live descendants (a server's granian workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        todo.extend(children.get(current, []))
    return found


def postgres_pids() -> set[int]:
    """The PostgreSQL server's processes on this machine (when it runs here)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.add(int(entry.name))
            except OSError:
                continue
    return pids


def run_wrk_measured(wrk: str, url: str, pid: int, threads_file: Path, key: str, options) -> dict:
    """run_wrk, with the CPU the server's processes and PostgreSQL's used per request, and the
    machine's CPU use (all cores, every process) meanwhile."""
    server, database = tree(pid), postgres_pids()
    before = (process_cpu(server), process_cpu(database), _machine_busy())
    result = run_wrk(wrk, url, threads_file, key, options.duration, options.connections)
    server_cpu = process_cpu(server) - before[0]
    database_cpu = process_cpu(database) - before[1]
    busy, elapsed = (now - then for now, then in zip(_machine_busy(), before[2], strict=True))
    result["server_us"] = server_cpu / result["requests"] * 1e6
    result["database_us"] = database_cpu / result["requests"] * 1e6
    result["machine_busy"] = busy / elapsed  # busy cores on average
    return result


def _machine_busy() -> tuple[float, float]:
    """(busy core-seconds, elapsed core-seconds / cores) since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / ticks, sum(fields) / ticks / os.cpu_count()


def scaling(wrk: str, db_url: str, key: str, paths: dict[str, Path], options) -> None:
    """Per worker count: bare and Threadline with that many workers, many threads and one thread;
    req/s, ratio, and CPU per request of the server's processes and of PostgreSQL."""
    rows = []
    for workers in options.workers:
        env = {"DATABASE_URL": db_url, "GRANIAN_WORKERS": str(workers)}
        if options.redis:
            env |= {"REDIS_URL": options.redis, "REFLEX_REDIS_URL": options.redis}
        with (
            bare_server_process(workers) as (bare_url, bare_process),
            threadline_server_process(env) as (threadline_url, threadline_process),
        ):
            targets = (
                ("bare", bare_url, bare_process.pid),
                ("threadline", threadline_url, threadline_process.pid),
            )
            for _target, url, _pid in targets:
                run_wrk(wrk, url, paths["many threads"], key, 2, options.connections)  # warm-up
            for scenario in ("many threads", "one thread"):
                measured = {
                    target: run_wrk_measured(wrk, url, pid, paths[scenario], key, options)
                    for target, url, pid in targets
                }
                rows.append((workers, scenario, measured))
    database = "PostgreSQL" if "postgresql" in db_url else "SQLite (WAL)"
    print(
        f"\nIngest scaling — {database}, {options.connections} connections, "
        f"{options.duration} s per run, {os.cpu_count()} cores"
    )
    print(
        f"{'workers':>7} {'scenario':<13} {'bare':>7} {'threadline':>10} {'ratio':>6} "
        f"{'vs 1 w':>6} {'srv µs/req':>10} {'pg µs/req':>9} {'bare µs':>7} {'busy':>5} {'load':>5}"
    )
    first: dict[str, float] = {}
    for workers, scenario, measured in rows:
        bare, threadline = measured["bare"], measured["threadline"]
        first.setdefault(scenario, threadline["rps"])
        print(
            f"{workers:>7} {scenario:<13} {bare['rps']:>7.0f} {threadline['rps']:>10.0f} "
            f"{threadline['rps'] / bare['rps']:>6.2f} {threadline['rps'] / first[scenario]:>6.2f} "
            f"{threadline['server_us']:>10.0f} {threadline['database_us']:>9.0f} "
            f"{bare['server_us']:>7.0f} {threadline['machine_busy']:>5.2f} "
            f"{threadline['load']:>5.1f}"
        )
    print(
        "srv / pg µs/req: CPU per request of Threadline's processes / of PostgreSQL's; "
        "bare µs: the bare server's; busy: cores in use (all processes) during Threadline's run"
    )
    print(f"command: .venv/bin/python bench/ingest.py {' '.join(sys.argv[1:])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2000, help="threads to spread posts over")
    parser.add_argument("--rate", type=int, default=500, help="req/s for the fixed-rate run")
    parser.add_argument("--deep", type=int, default=1_000_000, help="messages in the long thread")
    parser.add_argument("--read-size", type=int, default=200_000, help="messages read from")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="server workers (both servers); several (e.g. 1 2 4): the full table with the first "
        "count, then the scaling table for each",
    )
    parser.add_argument(
        "--ingest-only",
        action="store_true",
        help="only the many-threads / one-thread runs (the scaling table), per worker count",
    )
    parser.add_argument("--redis", help="Redis URL (needed by Reflex for more than one worker)")
    parser.add_argument(
        "--postgres", help="PostgreSQL URL of a server to create a bench database on"
    )
    parser.add_argument(
        "--fanout", action="store_true", help="add the fan-out section (about 5 minutes more)"
    )
    parser.add_argument("--fanout-clients", type=int, nargs="+", default=[50, 500])
    options = parser.parse_args()
    os.environ.setdefault("BCRYPT_ROUNDS", "4")  # the fan-out's reviewers sign in quickly
    wrk = ensure_wrk()

    scratch = Path(tempfile.mkdtemp(prefix="threadline-ingest-"))
    if options.postgres:
        name = f"threadline_bench_{uuid.uuid4().hex[:8]}"
        base = sa.make_url(options.postgres.replace("postgresql://", "postgresql+psycopg://", 1))
        admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        db_url = base.set(database=name).render_as_string(hide_password=False)
    else:
        db_url = f"sqlite:///{scratch / 'bench.db'}"

    def drop_database() -> None:
        if options.postgres:
            admin.dispose()
            with sa.create_engine(
                base.set(database="postgres"), isolation_level="AUTOCOMMIT"
            ).connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    key, thread_ids = prepare_database(db_url, options.threads + 3)
    deep_thread, read_thread, page_thread = thread_ids[-3:]
    thread_ids = thread_ids[:-3]
    quick = options.ingest_only
    counts = list(options.workers)
    if not quick:  # the scaling table needs no long threads
        started = time.monotonic()
        fill_thread(db_url, deep_thread, options.deep)
        fill_thread(db_url, read_thread, options.read_size)
        approvals = create_approvals(50, page_thread)
        elapsed = time.monotonic() - started
        print(f"filled {options.deep + options.read_size} messages in {elapsed:.0f} s")
    files = {
        "many threads": thread_ids,
        "one thread": thread_ids[:1],
        f"thread of {options.deep:,}": [deep_thread],
    }
    paths = {}
    for index, (scenario, ids) in enumerate(files.items()):
        paths[scenario] = scratch / f"threads{index}.txt"
        paths[scenario].write_text("\n".join(ids))

    if quick:
        scaling(wrk, db_url, key, paths, options)
        drop_database()
        shutil.rmtree(scratch, ignore_errors=True)
        return
    options.workers = options.workers[0]
    results: dict[str, dict] = {}
    env = {"DATABASE_URL": db_url, "GRANIAN_WORKERS": str(options.workers)}
    if options.redis:
        env |= {"REDIS_URL": options.redis, "REFLEX_REDIS_URL": options.redis}
    many, one, deep = paths.values()
    fanned: list[dict] = []
    with (
        bare_server(options.workers) as bare_url,
        threadline_server_process(env) as (threadline_url, threadline_process),
    ):
        for url in (bare_url, threadline_url):
            run_wrk(wrk, url, many, key, 2, options.connections)  # warm-up
        before = count_messages(db_url)
        for scenario in ("many threads", "one thread"):
            for target, url in (("bare", bare_url), ("threadline", threadline_url)):
                results[f"{scenario}/{target}"] = run_wrk(
                    wrk, url, paths[scenario], key, options.duration, options.connections
                )
        deep_name = f"thread of {options.deep:,}"
        results[f"{deep_name}/threadline"] = run_wrk(
            wrk, threadline_url, deep, key, options.duration, options.connections
        )
        # A new thread again right after: the long thread is compared with the mean of the runs
        # either side of it, so that the machine's drift between runs does not pose as a ratio.
        results["one thread, again/threadline"] = run_wrk(
            wrk, threadline_url, one, key, options.duration, options.connections
        )
        results["many threads + reads/threadline"], reads = run_wrk_with_side_load(
            wrk, threadline_url, many, key, options, (read_thread, page_thread, approvals)
        )
        stored = count_messages(db_url) - before
        fixed = {
            target: run_fixed_rate(url, key, thread_ids, options.rate, options.duration)
            for target, url in (("bare", bare_url), ("threadline", threadline_url))
        }
        fixed_load = os.getloadavg()[0]
        if options.fanout:
            fanned = fanout_bench.run_all(
                threadline_url,
                threadline_process.pid,
                key,
                page_thread,
                options.fanout_clients,
                list(fanout_bench.PROTOCOLS),
                requests=10,
            )

    database = "PostgreSQL" if options.postgres else "SQLite (WAL)"
    print(
        f"\nIngest benchmark — {database}, {options.workers} worker(s), "
        f"{options.connections} connections, {options.duration} s per run"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"{'scenario':<26} {'server':<11} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'load':>5}  ratio"
    )

    def row(scenario: str, target: str, ratio: str = "") -> None:
        r = results[f"{scenario}/{target}"]
        print(
            f"{scenario:<26} {target:<11} {r['rps']:>8.0f} {r['p50_us'] / 1000:>7.1f} "
            f"{r['p99_us'] / 1000:>7.1f} {r['socket_errors'] + r['non_2xx']:>6} "
            f"{r['load']:>5.1f}  {ratio}"
        )

    def rps(name: str) -> float:
        return results[name]["rps"]

    for scenario in ("many threads", "one thread"):
        row(scenario, "bare")
        ratio = rps(f"{scenario}/threadline") / rps(f"{scenario}/bare")
        row(scenario, "threadline", f"{ratio:.2f} of bare (goal ≥ 0.80 SQLite, ≥ 0.50 PostgreSQL)")
    row("one thread, again", "threadline")
    new_thread = (rps("one thread/threadline") + rps("one thread, again/threadline")) / 2
    ratio = rps(f"{deep_name}/threadline") / new_thread
    row(deep_name, "threadline", f"{ratio:.2f} of a new thread, runs either side (goal ≥ 0.95)")
    ratio = rps("many threads + reads/threadline") / rps("many threads/threadline")
    row("many threads + reads", "threadline", f"{ratio:.2f} of ingest alone (goal ≥ 0.80)")
    labels = {
        "list": f"messages:list page of 100, {options.read_size:,}-message thread, 1/s",
        "page": "console thread page (5 calls), 5 pages, 1/s each",
        "poll": "approvalRequests:get long-polls, 50 open",
    }
    for name, label in labels.items():
        count, p50, worst = reads[name]
        print(f"  reads: {label}: {count} done, p50 {p50:.0f} ms, max {worst:.0f} ms")
    print(f"  reads that failed: {reads['errors']}")
    acknowledged = sum(
        r["requests"] - r["non_2xx"] for k, r in results.items() if k.endswith("/threadline")
    )
    print(f"messages stored during the timed runs: {stored} (wrk counted {acknowledged} answers)")
    for target, r in fixed.items():
        print(
            f"fixed {options.rate} req/s  {target:<11} p50 {r['p50_ms']:.1f} ms  "
            f"p99 {r['p99_ms']:.1f} ms  errors {r['errors']}/{r['requests']}  "
            f"load {fixed_load:.1f}"
        )
    command = f".venv/bin/python bench/ingest.py {' '.join(sys.argv[1:])}".rstrip()
    if fanned:
        fanout_bench.print_table(fanned, command)
    if len(counts) > 1:
        options.workers = counts
        scaling(wrk, db_url, key, paths, options)
    elif not fanned:
        print(f"command: {command}")
    drop_database()
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
