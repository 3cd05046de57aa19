"""Sync benchmark: what live subscribers cost the ingest path, and mutation -> update latency.

The same wrk load as bench/ingest.py (messages:create, ~500 bytes, spread over the writing
threads, one of them the "hot" thread) runs against one Threadline server (granian, as in
production) with no subscribers, then with 5 ConvexClients (npm convex 1.48.0, under Node) on the
hot thread's newest page and 0, 50 or 500 more on threads nobody writes to. While the load runs,
a probe posts to the hot thread over HTTP every 100 ms and times until a hot subscriber sees it.

    .venv/bin/python bench/sync.py                     # SQLite
    .venv/bin/python bench/sync.py --postgres postgresql://postgres@127.0.0.1/test
    options: --duration 10 --connections 50 --writing-threads 200
Prints req/s per case, the ratio to no subscribers, and the probe's p50 / p95.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import ensure_wrk, run_wrk  # noqa: E402
from tests.convex_support import CONVEX_JS  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

# (subscribers on other threads, on the hot thread); (500, 0) shows the cost of idle subscribers
# alone, without the Node process decoding updates on the same cores.
CASES = [(0, 0), (500, 0), (0, 5), (50, 5), (500, 5)]


def prepare(url: str, writing: int, quiet: int) -> tuple[str, list[str], list[str]]:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    from api import migrations
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.settings import get_settings

    get_settings.cache_clear()
    migrations.upgrade(get_settings().sqlalchemy_url)

    async def setup():
        key = (await call("apiKeys:create", {"name": "bench"}, CLI_CALLER))["key"]
        ids = [
            await call("threads:create", {"title": f"bench {i}"}, CLI_CALLER)
            for i in range(writing + quiet)
        ]
        return key, ids[:writing], ids[writing:]

    return asyncio.run(setup())


def run_case(server, wrk, key, written_file, hot, quiet_file, others, hot_count, args) -> dict:
    node = None
    if others or hot_count:
        node = subprocess.Popen(
            [
                "node",
                "bench_subscribers.mjs",
                server.url,
                key,
                hot,
                str(quiet_file),
                str(others),
                str(hot_count),
                str(args.duration),
            ],
            cwd=CONVEX_JS,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = node.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"subscribers did not start: {line!r}")
    result = run_wrk(wrk, server.url, written_file, key, args.duration, args.connections)
    if node is not None:
        output = node.communicate(timeout=60)[0]
        match = re.search(r"RESULT (\{.*\})", output)
        result["probe"] = json.loads(match.group(1)) if match else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="PostgreSQL URL (a scratch database is made in it)")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--writing-threads", type=int, default=200)
    args = parser.parse_args()
    wrk = ensure_wrk()
    from tests.convex_support import ensure_node_client

    try:
        ensure_node_client()
    except BaseException as exc:  # pytest.skip outside pytest
        sys.exit(f"node and npm are needed: {exc}")
    with tempfile.TemporaryDirectory(prefix="threadline-sync-bench-") as scratch:
        if args.postgres:
            import sqlalchemy as sa

            name = f"threadline_bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = sa.make_url(args.postgres).set(database=name).render_as_string(False)
        else:
            url = f"sqlite:///{scratch}/bench.db"
        key, written, quiet = prepare(url, args.writing_threads, 500)
        written_file = Path(scratch) / "written.txt"
        written_file.write_text("\n".join(written) + "\n")
        quiet_file = Path(scratch) / "quiet.txt"
        quiet_file.write_text("\n".join(quiet) + "\n")
        server = ServerProcess(url).start()
        results = []
        try:
            for others, hot_count in CASES:
                result = run_case(
                    server, wrk, key, written_file, written[0], quiet_file, others, hot_count, args
                )
                results.append((others, hot_count, result))
        finally:
            server.stop()
    base = results[0][2]["rps"]
    print(f"{'subscribers':<28} {'req/s':>8} {'ratio':>6} {'p99 ms':>7}  mutation->update")
    for others, hot_count, result in results:
        probe = result.get("probe")
        latency = (
            f"p50 {probe['p50_ms']:.0f} ms, p95 {probe['p95_ms']:.0f} ms ({probe['samples']})"
            if probe and probe["samples"]
            else "-"
        )
        label = f"{hot_count} hot + {others} other" if hot_count or others else "none"
        print(
            f"{label:<28} {result['rps']:>8.0f} {result['rps'] / base:>6.2f} "
            f"{result['p99_us'] / 1000:>7.1f}  {latency}"
        )


if __name__ == "__main__":
    main()
