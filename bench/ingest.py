"""Ingest benchmark: Threadline's POST /api/mutation against a bare Starlette endpoint that only
parses the same JSON, both served by granian with the same worker count, driven by the same wrk
load in one run. Prints req/s, p50 and p99 for each and the ratio; then p99 at a fixed rate.

    .venv/bin/python bench/ingest.py                       # SQLite
    .venv/bin/python bench/ingest.py --postgres postgresql://postgres@127.0.0.1/test
    options: --duration 10 --connections 50 --threads 2000 --rate 500
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
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._load import fixed_rate  # noqa: E402
from bench._servers import bare_server, threadline_server  # noqa: E402

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
    return result


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2000, help="threads to spread posts over")
    parser.add_argument("--rate", type=int, default=500, help="req/s for the fixed-rate run")
    parser.add_argument(
        "--postgres", help="PostgreSQL URL of a server to create a bench database on"
    )
    options = parser.parse_args()
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
    key, thread_ids = prepare_database(db_url, options.threads)
    many_file, one_file = scratch / "many.txt", scratch / "one.txt"
    many_file.write_text("\n".join(thread_ids))
    one_file.write_text(thread_ids[0])

    results: dict[str, dict] = {}
    env = {"DATABASE_URL": db_url}
    with bare_server() as bare_url, threadline_server(env) as threadline_url:
        for url in (bare_url, threadline_url):
            run_wrk(wrk, url, many_file, key, 2, options.connections)  # warm-up
        before = count_messages(db_url)
        for scenario, threads_file in (("many threads", many_file), ("one thread", one_file)):
            for target, url in (("bare", bare_url), ("threadline", threadline_url)):
                results[f"{scenario}/{target}"] = run_wrk(
                    wrk, url, threads_file, key, options.duration, options.connections
                )
        stored = count_messages(db_url) - before
        fixed = {
            target: run_fixed_rate(url, key, thread_ids, options.rate, options.duration)
            for target, url in (("bare", bare_url), ("threadline", threadline_url))
        }

    database = "PostgreSQL" if options.postgres else "SQLite (WAL)"
    print(
        f"\nIngest benchmark — {database}, {options.connections} connections, "
        f"{options.duration} s per run"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'scenario':<14} {'server':<11} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for scenario in ("many threads", "one thread"):
        for target in ("bare", "threadline"):
            r = results[f"{scenario}/{target}"]
            print(
                f"{scenario:<14} {target:<11} {r['rps']:>9.0f} {r['p50_us'] / 1000:>8.1f} "
                f"{r['p99_us'] / 1000:>8.1f} {r['socket_errors'] + r['non_2xx']:>7}"
            )
        ratio = results[f"{scenario}/threadline"]["rps"] / results[f"{scenario}/bare"]["rps"]
        print(f"{scenario:<14} ratio threadline/bare = {ratio:.2f}")
    acknowledged = sum(
        r["requests"] - r["non_2xx"] for k, r in results.items() if k.endswith("/threadline")
    )
    print(f"messages stored during the timed runs: {stored} (wrk counted {acknowledged} answers)")
    for target, r in fixed.items():
        print(
            f"fixed {options.rate} req/s  {target:<11} p50 {r['p50_ms']:.1f} ms  "
            f"p99 {r['p99_ms']:.1f} ms  errors {r['errors']}/{r['requests']}"
        )
    print(f"command: .venv/bin/python bench/ingest.py {' '.join(sys.argv[1:])}".rstrip())
    if options.postgres:
        admin.dispose()
        sa.create_engine(
            base.set(database="postgres"), isolation_level="AUTOCOMMIT"
        ).connect().execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
