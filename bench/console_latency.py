"""Console latency: how long a new approval request takes to show in open inboxes, how long a new
message takes to show in open thread pages (the live thread view), and how fast a 10,000-message
thread first paints.

    .venv/bin/python bench/console_latency.py [--requests 20] [--tabs 50] [--thread-tabs 10]
        [--messages 40] [--only thread] [--port 3170]

Starts `reflex run --env prod --single-port` on a throwaway SQLite database (do not run it while
another Reflex build uses .web/), opens signed-in inbox tabs in headless Chromium, posts
approvalRequests:create (or messages:create) over HTTP and records, inside each tab, when the new
row appears (MutationObserver; both clocks are this machine's wall clock). A latency counts from
just before the HTTP call, so it bounds the time after the commit (which comes before the answer).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.server_process import (  # noqa: E402
    launch_chromium,
    reflex_command,
    reflex_env,
    stop_process,
    wait_healthy,
)

EMAIL, PASSWORD = "bench@example.com", "bench-password-1"
LONG_THREAD_MESSAGES = 10_000

# Records, per request id, when its inbox row first exists in this tab.
OBSERVER = """
window.__seen = {};
new MutationObserver(() => {
  for (const row of document.querySelectorAll('[data-queue-row]')) {
    const id = row.dataset.queueRow;
    if (!(id in window.__seen)) window.__seen[id] = Date.now();
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""

# Records, per timeline entry id, when its row first exists in this tab.
TIMELINE_OBSERVER = """
window.__seen = {};
new MutationObserver(() => {
  for (const row of document.querySelectorAll('[data-testid=timeline] .timeline-entry')) {
    const id = row.dataset.id;
    if (!(id in window.__seen)) window.__seen[id] = Date.now();
  }
}).observe(document, {subtree: true, childList: true, attributes: true});
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def seed(database_url: str) -> tuple[str, str, str]:
    """A reviewer, an API key and a thread of LONG_THREAD_MESSAGES messages (bulk inserted)."""
    import sqlalchemy as sa

    from api import migrations
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.db import make_engine
    from models import Message, ToolCall
    from models.ids import new_id

    migrations.upgrade(database_url)

    async def accounts():
        await call(
            "users:create",
            {"email": EMAIL, "name": "Bench Reviewer", "role": "reviewer", "password": PASSWORD},
            CLI_CALLER,
        )
        key = (await call("apiKeys:create", {"name": "bench"}, CLI_CALLER))["key"]
        thread_id = await call("threads:create", {"title": "Ten thousand messages"}, CLI_CALLER)
        return key, thread_id

    key, thread_id = asyncio.run(accounts())
    engine = make_engine(database_url)
    start = time.time() * 1000
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Message.__table__),
            [
                {
                    "id": new_id("messages"),
                    "creation_time": start + i,
                    "thread_id": thread_id,
                    "role": "assistant" if i % 2 else "user",
                    "content": f"Message {i} **bold**",
                    "order": i,
                }
                for i in range(LONG_THREAD_MESSAGES)
            ],
        )
        conn.execute(
            sa.insert(ToolCall.__table__),
            [
                {
                    "id": new_id("tool_calls"),
                    "creation_time": start + i * 10 + 0.5,
                    "thread_id": thread_id,
                    "tool_name": "grep",
                    "input": {"q": i},
                    "output": {"hits": i},
                    "status": "succeeded",
                    "duration_ms": 12.0,
                }
                for i in range(LONG_THREAD_MESSAGES // 10)
            ],
        )
    engine.dispose()
    return key, thread_id, database_url


def start_server(port: int, env: dict[str, str], cwd: Path = REPO) -> subprocess.Popen:
    process = subprocess.Popen(
        reflex_command(port, single_port=True),
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, 180, interval=0.5)
    except RuntimeError:
        stop_process(process)
        raise
    # The frontend build finishes before the port opens; give the page a first load.
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/signin", timeout=10)
    return process


def measure_inbox(
    browser, base: str, http: httpx.Client, key: str, token: str, tabs: int, requests: int
) -> list[float]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "threadline_session", "value": token, "url": base}])
    context.add_init_script(OBSERVER)
    pages = []
    for _ in range(tabs):
        page = context.new_page()
        page.goto(base + "/approvals")
        pages.append(page)
    for page in pages:
        page.wait_for_selector("[data-testid=approvals-view]", timeout=60_000)
    page.wait_for_timeout(1000)  # let every tab link to the shared queue
    headers = {"Authorization": f"Bearer {key}"}
    thread_id = http.post(
        "/api/mutation",
        headers=headers,
        json={"path": "threads:create", "args": {"title": "Latency probe"}},
    ).json()["value"]
    latencies = []
    for _ in range(requests):
        sent = time.time() * 1000
        request_id = http.post(
            "/api/mutation",
            headers=headers,
            json={
                "path": "approvalRequests:create",
                "args": {"threadId": thread_id, "planContent": "# Probe"},
            },
        ).json()["value"]
        for page in pages:
            page.wait_for_function(
                f"window.__seen[{request_id!r}] !== undefined", timeout=30_000, polling=50
            )
            latencies.append(page.evaluate(f"window.__seen[{request_id!r}]") - sent)
        http.post(
            "/api/mutation",
            headers=headers,
            json={"path": "approvalRequests:cancel", "args": {"approvalRequestId": request_id}},
        )
        pages[0].wait_for_timeout(200)
    context.close()
    return latencies


def measure_thread(
    browser,
    base: str,
    http: httpx.Client,
    key: str,
    token: str,
    tabs: int,
    messages: int,
    gap_ms: float,
) -> list[float]:
    """Open `tabs` pages on one thread, then post `messages` messages `gap_ms` apart (0: one
    after another, each after the previous answer) and time each row's arrival in every tab."""
    headers = {"Authorization": f"Bearer {key}"}
    thread_id = http.post(
        "/api/mutation",
        headers=headers,
        json={"path": "threads:create", "args": {"title": "Live thread probe"}},
    ).json()["value"]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "threadline_session", "value": token, "url": base}])
    context.add_init_script(TIMELINE_OBSERVER)
    pages = []
    for _ in range(tabs):
        page = context.new_page()
        page.goto(base + f"/threads/{thread_id}")
        pages.append(page)
    for page in pages:
        page.wait_for_selector("h1", timeout=60_000)
    page.wait_for_timeout(1000)
    sent: dict[str, float] = {}
    for index in range(messages):
        started = time.time() * 1000
        message_id = http.post(
            "/api/mutation",
            headers=headers,
            json={
                "path": "messages:create",
                "args": {
                    "threadId": thread_id,
                    "role": "assistant",
                    "content": f"Step {index}: **working**",
                },
            },
        ).json()["value"]
        sent[message_id] = started
        if gap_ms:
            time.sleep(max(0.0, gap_ms / 1000 - (time.time() * 1000 - started) / 1000))
    latencies = []
    for page in pages:
        last = list(sent)[-1]
        page.wait_for_function(f"window.__seen[{last!r}] !== undefined", timeout=30_000, polling=50)
        seen = page.evaluate("window.__seen")
        latencies += [seen[message_id] - started for message_id, started in sent.items()]
    context.close()
    return latencies


def measure_first_paint(browser, base: str, token: str, thread_id: str, runs: int) -> list[float]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": "threadline_session", "value": token, "url": base}])
    page = context.new_page()
    page.goto(base + "/threads")
    page.wait_for_selector("h1", timeout=30_000)
    timings = []
    for _ in range(runs):
        page.goto(base + "/threads")
        page.wait_for_selector("[data-thread-row]", timeout=30_000)
        started = time.perf_counter()
        page.goto(base + f"/threads/{thread_id}")
        page.wait_for_function(
            "document.querySelectorAll('[data-testid=timeline] .timeline-entry').length >= 50",
            timeout=60_000,
            polling="raf",
        )
        timings.append((time.perf_counter() - started) * 1000)
    context.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--tabs", type=int, default=50)
    parser.add_argument("--thread-tabs", type=int, default=10)
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--only", choices=["thread"], default=None)
    parser.add_argument("--port", type=int, default=3170)
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="threadline-bench-"))
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    env = {
        **os.environ,
        **reflex_env(),
        "DATABASE_URL": database_url,
        "BCRYPT_ROUNDS": "4",
    }
    os.environ["DATABASE_URL"] = database_url
    key, long_thread, _ = seed(database_url)
    server = start_server(options.port, env)
    base = f"http://127.0.0.1:{options.port}"
    try:
        from playwright.sync_api import sync_playwright

        with httpx.Client(base_url=base, timeout=30) as http, sync_playwright() as playwright:
            token = http.post(
                "/api/auth/signin", json={"email": EMAIL, "password": PASSWORD}
            ).json()["token"]
            browser = launch_chromium(playwright)
            one = many = paint = []
            if options.only is None:
                one = measure_inbox(browser, base, http, key, token, 1, options.requests)
                many = measure_inbox(
                    browser, base, http, key, token, options.tabs, max(5, options.requests // 4)
                )
            live = {
                "1 tab, one by one": measure_thread(
                    browser, base, http, key, token, 1, options.messages, 100
                ),
                f"{options.thread_tabs} tabs, one by one": measure_thread(
                    browser, base, http, key, token, options.thread_tabs, options.messages, 100
                ),
                f"{options.thread_tabs} tabs, streamed": measure_thread(
                    browser, base, http, key, token, options.thread_tabs, options.messages, 0
                ),
            }
            if options.only is None:
                paint = measure_first_paint(browser, base, token, long_thread, 5)
            browser.close()
    finally:
        stop_process(server, timeout=30)

    print(
        f"command: .venv/bin/python bench/console_latency.py --requests {options.requests} "
        f"--tabs {options.tabs} --thread-tabs {options.thread_tabs} --messages {options.messages}"
        + (f" --only {options.only}" if options.only else "")
    )
    print(f"machine: {os.cpu_count()} CPUs; SQLite; one granian worker; headless Chromium")
    if options.only is None:
        print("approvalRequests:create -> row visible in an open inbox (ms)")
        for label, values in (("1 tab", one), (f"{options.tabs} tabs", many)):
            print(
                f"  {label:>8}: p50 {percentile(values, 0.5):7.0f}   p95 "
                f"{percentile(values, 0.95):7.0f}   max {max(values):7.0f}   (n={len(values)})"
            )
    print(
        "messages:create -> row visible in an open thread page (ms; one by one: 100 ms apart; "
        "streamed: back to back)"
    )
    for label, values in live.items():
        print(
            f"  {label:>22}: p50 {percentile(values, 0.5):7.0f}   p95 "
            f"{percentile(values, 0.95):7.0f}   max {max(values):7.0f}   (n={len(values)})"
        )
    if options.only is not None:
        return
    print(
        f"first paint of a {LONG_THREAD_MESSAGES:,}-message thread (latest 50 entries shown, "
        f"navigation to visible, ms): p50 {statistics.median(paint):.0f}, "
        f"min {min(paint):.0f}, max {max(paint):.0f} (n={len(paint)})"
    )


if __name__ == "__main__":
    main()
