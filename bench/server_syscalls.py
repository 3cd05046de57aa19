"""System calls per request of the two servers bench/ingest.py compares (Threadline as `make run`
serves it, the bare Starlette endpoint), each under the same wrk load, counted by `strace -c` on
the busiest granian worker. Counts per request move far less with the machine's load than req/s
do, so they show where the server-level gap goes that the in-process figures (bench/app_cost.py)
cannot see: WAL page writes, the checkpoints' fdatasync, SQLite's temporary files, the GIL's
futex waits, getpid (asyncio.get_running_loop calls it every time on 3.11), getrandom (ids).

    flock /work/notes/bench.lock .venv/bin/python bench/server_syscalls.py [--duration 4]
        [--threads 2000] [--connections 50]

strace slows both servers a lot: read the counts per request, not the req/s it prints.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._servers import bare_server_process, threadline_server_process  # noqa: E402
from bench.ingest import ensure_wrk, prepare_database, process_cpu, run_wrk, tree  # noqa: E402


def busiest(pids: set[int], run: Callable[[], object]) -> int:
    """The pid of `pids` that used the most CPU while `run()` ran (the serving granian worker)."""
    before = {pid: process_cpu({pid}) for pid in pids}
    run()
    return max(pids, key=lambda pid: process_cpu({pid}) - before[pid])


def parse_strace_summary(text: str) -> dict[str, int]:
    """`strace -c` output -> {syscall: calls}."""
    calls: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            calls[parts[-1]] = int(parts[3])
    return calls


def count(
    wrk: str, url: str, pid: int, threads_file: Path, key: str, options: argparse.Namespace
) -> dict:
    """Syscalls of `pid` (all its threads) per request while wrk runs for options.duration."""
    out = Path(tempfile.mkstemp(prefix="strace-", suffix=".txt")[1])
    tracer = subprocess.Popen(
        ["strace", "-f", "-c", "-o", str(out), "-p", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # attached to every thread before the load starts
    result = run_wrk(wrk, url, threads_file, key, options.duration, options.connections)
    tracer.send_signal(2)
    tracer.wait(timeout=30)
    calls = parse_strace_summary(out.read_text())
    out.unlink()
    return {"requests": result["requests"], "calls": calls, "load": result["load"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2000)
    options = parser.parse_args()
    if shutil.which("strace") is None:
        sys.exit("strace is needed: apt-get install strace")
    wrk = ensure_wrk()
    scratch = Path(tempfile.mkdtemp(prefix="threadline-syscalls-"))
    db_url = f"sqlite:///{scratch / 'bench.db'}"
    key, thread_ids = prepare_database(db_url, options.threads)
    many = scratch / "threads.txt"
    many.write_text("\n".join(thread_ids))
    env = {"DATABASE_URL": db_url, "GRANIAN_WORKERS": "1"}
    figures: dict[str, dict] = {}
    with (
        bare_server_process(1) as (bare_url, bare),
        threadline_server_process(env) as (threadline_url, threadline),
    ):
        for name, url, process in (
            ("bare", bare_url, bare),
            ("threadline", threadline_url, threadline),
        ):
            run_wrk(wrk, url, many, key, 2, options.connections)  # warm-up
            pid = busiest(
                tree(process.pid),
                lambda url=url: run_wrk(wrk, url, many, key, 2, options.connections),
            )
            figures[name] = count(wrk, url, pid, many, key, options)
    shutil.rmtree(scratch, ignore_errors=True)
    names = sorted(
        set(figures["bare"]["calls"]) | set(figures["threadline"]["calls"]),
        key=lambda n: -figures["threadline"]["calls"].get(n, 0) / figures["threadline"]["requests"],
    )
    print(f"\nsyscalls per request, many threads, {options.connections} connections (under strace)")
    for name in ("bare", "threadline"):
        r = figures[name]
        print(f"  {name}: {r['requests']} requests, load {r['load']:.2f}")
    print(f"{'syscall':<16} {'bare':>8} {'threadline':>11}")
    for name in names:
        per = [figures[t]["calls"].get(name, 0) / figures[t]["requests"] for t in figures]
        if max(per) >= 0.01:
            print(f"{name:<16} {per[0]:>8.2f} {per[1]:>11.2f}")
    totals = [sum(figures[t]["calls"].values()) / figures[t]["requests"] for t in figures]
    print(f"{'total':<16} {totals[0]:>8.2f} {totals[1]:>11.2f}")


if __name__ == "__main__":
    main()
