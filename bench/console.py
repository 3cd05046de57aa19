"""Console benchmark on a realistic instance: `threadline demo-data` fills 100,000 threads and one
10,000-message thread, then this measures

- threads:list page time (first page, deep page, search, filters) — goal ≤ 50 ms,
- first paint of the 10,000-message thread in Chromium — goal ≤ 1 s,
- approvalRequests:create → visible in open inboxes, 1 and 50 tabs — goal p95 ≤ 250 ms / ≤ 1 s,
- server memory per connected console tab — goal ≤ 0.5 MiB.

    .venv/bin/python bench/console.py [--threads 100000] [--tabs 50] [--port 3180]

Starts `reflex run --env prod --single-port` from a scratch folder linking to the project (its
own .web/). Prints figures and the command; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._servers import scratch_project  # noqa: E402
from bench.console_latency import (  # noqa: E402
    EMAIL,
    PASSWORD,
    measure_first_paint,
    measure_inbox,
    percentile,
    start_server,
)
from tests.server_process import launch_chromium, reflex_env, stop_process  # noqa: E402


def seed(threads: int, big: int) -> dict:
    from api import demo, migrations
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.settings import get_settings

    migrations.upgrade(get_settings().sqlalchemy_url)
    started = time.monotonic()
    result = demo.generate(threads, big, pending=25)
    result["seconds"] = time.monotonic() - started

    async def accounts() -> str:
        await call(
            "users:create",
            {"email": EMAIL, "name": "Bench Reviewer", "role": "reviewer", "password": PASSWORD},
            CLI_CALLER,
        )
        return (await call("apiKeys:create", {"name": "bench"}, CLI_CALLER))["key"]

    result["key"] = asyncio.run(accounts())
    return result


def time_list_queries(runs: int = 30) -> dict[str, list[float]]:
    """threads:list as the console calls it (in-process, the function's own cost)."""
    from api.calls import call
    from api.registry import Caller

    viewer = Caller(kind="user", id="usr_bench", role="viewer", label="bench")

    async def measure() -> dict[str, list[float]]:
        first = {"paginationOpts": {"numItems": 50, "cursor": None}}
        cursor = None
        for _ in range(40):  # 2,000 threads deep
            page = await call(
                "threads:list", {"paginationOpts": {"numItems": 50, "cursor": cursor}}, viewer
            )
            cursor = page["continueCursor"]
        cases = {
            "first page (50)": first,
            "page 41 (50)": {"paginationOpts": {"numItems": 50, "cursor": cursor}},
            "status=archived": {**first, "status": "archived"},
            "userId filter": {**first, "userId": "user_42"},
            "title search": {**first, "search": "billing cron"},
            "title search, no match (full scan)": {**first, "search": "no such title"},
        }
        timings: dict[str, list[float]] = {}
        for name, args in cases.items():
            timings[name] = []
            for _ in range(runs):
                started = time.perf_counter()
                await call("threads:list", args, viewer)
                timings[name].append((time.perf_counter() - started) * 1000)
        return timings

    return asyncio.run(measure())


def server_rss(server: psutil.Process) -> int:
    return sum(p.memory_info().rss for p in [server, *server.children(recursive=True)])


def memory_per_tab(browser, base: str, token: str, server: psutil.Process, tabs: int) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "threadline_session", "value": token, "url": base}])
    warm = context.new_page()
    warm.goto(base + "/approvals")
    warm.wait_for_selector("[data-testid=approvals-view]", timeout=60_000)
    time.sleep(2)
    before = server_rss(server)
    pages = []
    for _ in range(tabs):
        page = context.new_page()
        page.goto(base + "/approvals")
        pages.append(page)
    for page in pages:
        page.wait_for_selector("[data-testid=approvals-view]", timeout=60_000)
    time.sleep(3)
    after = server_rss(server)
    context.close()
    return (after - before) / tabs / (1024 * 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--big-thread-messages", type=int, default=10_000)
    parser.add_argument("--tabs", type=int, default=50)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--port", type=int, default=3180)
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="threadline-console-bench-"))
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("BCRYPT_ROUNDS", "4")
    seeded = seed(options.threads, options.big_thread_messages)
    list_timings = time_list_queries()

    env = {
        **os.environ,
        **reflex_env(),
    }
    with scratch_project() as scratch:
        run_browser_measures(options, seeded, env, scratch, list_timings)


def run_browser_measures(options, seeded, env, scratch, list_timings) -> None:
    server = start_server(options.port, env, cwd=scratch)
    base = f"http://127.0.0.1:{options.port}"
    try:
        from playwright.sync_api import sync_playwright

        with httpx.Client(base_url=base, timeout=30) as http, sync_playwright() as playwright:
            http_list = []
            key_headers = {"Authorization": f"Bearer {seeded['key']}"}
            for _ in range(30):
                started = time.perf_counter()
                http.post(
                    "/api/query",
                    headers=key_headers,
                    json={
                        "path": "threads:list",
                        "args": {"paginationOpts": {"numItems": 50, "cursor": None}},
                    },
                ).raise_for_status()
                http_list.append((time.perf_counter() - started) * 1000)
            token = http.post(
                "/api/auth/signin", json={"email": EMAIL, "password": PASSWORD}
            ).json()["token"]
            browser = launch_chromium(playwright)
            paint = measure_first_paint(browser, base, token, seeded["bigThreadId"], 5)
            one = measure_inbox(browser, base, http, seeded["key"], token, 1, options.requests)
            many = measure_inbox(
                browser,
                base,
                http,
                seeded["key"],
                token,
                options.tabs,
                max(5, options.requests // 4),
            )
            per_tab = memory_per_tab(browser, base, token, psutil.Process(server.pid), options.tabs)
            browser.close()
    finally:
        stop_process(server, timeout=30)

    counts = ", ".join(f"{v:,} {k}" for k, v in seeded["counts"].items())
    print(f"\ncommand: .venv/bin/python bench/console.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; SQLite; one worker"
    )
    print(f"demo data: {counts} (inserted in {seeded['seconds']:.0f} s)")
    print("threads:list, in-process (ms)            p50     p95   goal ≤ 50")
    for name, values in list_timings.items():
        print(f"  {name:<36} {statistics.median(values):6.1f}  {percentile(values, 0.95):6.1f}")
    http_p50, http_p95 = statistics.median(http_list), percentile(http_list, 0.95)
    print(f"  {'first page over HTTP':<36} {http_p50:6.1f}  {http_p95:6.1f}")
    print(
        f"first paint of the {options.big_thread_messages:,}-message thread (ms): "
        f"p50 {statistics.median(paint):.0f}, max {max(paint):.0f} (goal ≤ 1000)"
    )
    for label, values, goal in (("1 tab", one, 250), (f"{options.tabs} tabs", many, 1000)):
        print(
            f"request → visible in inbox, {label:>8}: p50 {percentile(values, 0.5):.0f} ms, "
            f"p95 {percentile(values, 0.95):.0f} ms (goal p95 ≤ {goal})"
        )
    print(f"server memory per connected tab: {per_tab:.2f} MiB (goal ≤ 0.5)")


if __name__ == "__main__":
    main()
