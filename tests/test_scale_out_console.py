"""The whole product with several workers: `reflex run --env prod` on PostgreSQL with Redis and
GRANIAN_WORKERS=2, as `make run` serves when REDIS_URL is set. A request created through either
worker appears live in an inbox tab connected to one of them, messages and tool calls posted
through either worker appear live in an open thread page, and API writes through one worker are
read through the other.

Runs from a scratch folder linking to the project, so its frontend build never touches the
project's own .web/ (which the e2e harness uses).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PG_OK, PG_SKIP_REASON
from tests.server_process import (
    CHROMIUM,
    ROOT,
    free_port,
    launch_chromium,
    link_project,
    reflex_command,
    reflex_env,
    stop_process,
    wait_healthy,
)
from tests.test_scale_out import REDIS_URL, _redis_ok

pytestmark = [pytest.mark.postgres, pytest.mark.e2e]


@pytest.fixture(scope="module")
def cluster(pg_database, tmp_path_factory):
    if not PG_OK:
        pytest.skip(PG_SKIP_REASON)
    if not _redis_ok():
        pytest.skip("needs TEST_REDIS_URL pointing at a reachable Redis")
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (make e2e-deps)")
    scratch = link_project(tmp_path_factory.mktemp("cluster"))
    port = free_port()
    env = {
        **os.environ,
        **reflex_env(),
        "DATABASE_URL": pg_database,
        "REDIS_URL": REDIS_URL,
        "REFLEX_REDIS_URL": REDIS_URL,
        "REDIS_CHANNEL": f"threadline-test-{uuid.uuid4().hex[:8]}",
        "GRANIAN_WORKERS": "2",
        "BCRYPT_ROUNDS": "4",
        "PYTHONPATH": str(ROOT),
    }
    log = open(scratch / "server.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        reflex_command(port, single_port=True),
        cwd=scratch,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, 300, log=scratch / "server.log", interval=0.5)
        with contextlib.suppress(httpx.HTTPError):  # the first page view, to warm the server up
            httpx.get(f"{base}/signin", timeout=30)
        yield base
    finally:
        stop_process(process, timeout=30)
        log.close()


@pytest.fixture(scope="module")
def credentials(cluster, pg_database):
    import asyncio

    from api import db, writer
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.settings import get_settings

    os.environ["DATABASE_URL"] = pg_database
    get_settings.cache_clear()
    db.reset_engines()
    writer.reset_writers()

    async def make():
        email = f"rev-{uuid.uuid4().hex[:6]}@example.com"
        await call(
            "users:create",
            {
                "email": email,
                "name": "Cluster Reviewer",
                "role": "reviewer",
                "password": "cluster-pw-1",
            },
            CLI_CALLER,
        )
        key = (await call("apiKeys:create", {"name": "cluster"}, CLI_CALLER))["key"]
        return email, key

    email, key = asyncio.run(make())
    db.reset_engines()
    writer.reset_writers()
    token = httpx.post(
        f"{cluster}/api/auth/signin", json={"email": email, "password": "cluster-pw-1"}
    ).json()["token"]
    return {"key": {"Authorization": f"Bearer {key}"}, "token": token, "email": email}


def signed_in_page(browser: Any, base: str, token: str) -> Any:
    """A new page in a browser context of its own, signed in with the session `token`."""
    context = browser.new_context()
    context.add_cookies([{"name": "threadline_session", "value": token, "url": base}])
    return context.new_page()


def post(base: str, headers: dict, path: str, args: dict) -> tuple[object, str]:
    """On a fresh connection each time, so the kernel spreads the posts over the workers."""
    response = httpx.post(
        f"{base}/api/mutation", json={"path": path, "args": args}, headers=headers
    )
    body = response.json()
    assert body["status"] == "success", body
    return body["value"], response.headers["x-threadline-worker"]


def test_requests_created_through_any_worker_appear_live_in_an_open_inbox(cluster, credentials):
    from playwright.sync_api import expect, sync_playwright

    key = credentials["key"]
    thread, _ = post(cluster, key, "threads:create", {"title": "Across workers"})
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = signed_in_page(browser, cluster, credentials["token"])
        page.goto(f"{cluster}/approvals")
        page.wait_for_selector("[data-testid=approvals-view]", timeout=60_000)
        workers: set[str] = set()
        for attempt in range(20):  # until both workers have created at least two requests
            request_id, worker = post(
                cluster,
                key,
                "approvalRequests:create",
                {"threadId": thread, "planContent": f"# Plan {attempt}"},
            )
            workers.add(worker)
            expect(page.locator(f'[data-queue-row="{request_id}"]')).to_be_visible(timeout=15_000)
            if len(workers) >= 2 and attempt >= 5:
                break
        browser.close()
    assert len(workers) >= 2, "every post reached the same worker; the test proved nothing"


def test_messages_posted_through_any_worker_appear_live_in_an_open_thread(cluster, credentials):
    from playwright.sync_api import expect, sync_playwright

    key = credentials["key"]
    thread, _ = post(cluster, key, "threads:create", {"title": "Live across workers"})
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = signed_in_page(browser, cluster, credentials["token"])
        page.goto(f"{cluster}/threads/{thread}")
        expect(page.get_by_text("No messages or tool calls yet")).to_be_visible(timeout=60_000)
        entries = page.locator("[data-testid=timeline] .timeline-entry")
        workers: set[str] = set()
        for attempt in range(20):  # until both workers have posted at least two rows
            if attempt % 3 == 2:
                path, args = "toolCalls:record", {"threadId": thread, "toolName": f"t{attempt}"}
                args["input"] = {"n": attempt}
            else:
                path = "messages:create"
                args = {"threadId": thread, "role": "assistant", "content": f"row {attempt}"}
            row_id, worker = post(cluster, key, path, args)
            workers.add(worker)
            expect(page.locator(f'[data-id="{row_id}"]')).to_be_visible(timeout=15_000)
            if len(workers) >= 2 and attempt >= 5:
                expect(entries).to_have_count(attempt + 1)
                break
        browser.close()
    assert len(workers) >= 2, "every post reached the same worker; the test proved nothing"


def test_writes_through_one_worker_are_read_through_another(cluster, credentials):
    key = credentials["key"]
    thread, _ = post(cluster, key, "threads:create", {"title": "Read anywhere"})
    for i in range(10):
        post(
            cluster, key, "messages:create", {"threadId": thread, "role": "user", "content": str(i)}
        )
    readers: set[str] = set()
    for _ in range(20):
        response = httpx.post(
            f"{cluster}/api/query",
            json={"path": "messages:list", "args": {"threadId": thread}},
            headers=key,
        )
        assert [m["content"] for m in response.json()["value"]] == [str(i) for i in range(10)]
        readers.add(response.headers["x-threadline-worker"])
        if len(readers) >= 2:
            break
    assert len(readers) >= 2


def _sign_in(base: str, email: str, password: str) -> str:
    response = httpx.post(f"{base}/api/auth/signin", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


def test_a_session_ended_through_any_worker_stops_its_tab_in_every_worker(cluster, credentials):
    """Each sign-out goes to whichever worker the kernel picks; the tab, on one of them, stops
    receiving at once every time (credentials:changed travels through Redis)."""
    from playwright.sync_api import expect, sync_playwright

    key = credentials["key"]
    email = credentials["email"]
    thread, _ = post(cluster, key, "threads:create", {"title": "Ended across workers"})
    enders: set[str] = set()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        watcher = signed_in_page(browser, cluster, credentials["token"])
        watcher.goto(f"{cluster}/approvals")
        watcher.wait_for_selector("[data-testid=approvals-view]", timeout=60_000)
        for attempt in range(6):
            token = _sign_in(cluster, email, "cluster-pw-1")
            page = signed_in_page(browser, cluster, token)
            received: list[str] = []
            page.on(
                "websocket",
                lambda socket, received=received: socket.on(
                    "framereceived", lambda frame: received.append(str(frame))
                ),
            )
            page.goto(f"{cluster}/approvals")
            before, _ = post(
                cluster, key, "approvalRequests:create", {"threadId": thread, "planContent": "x"}
            )
            expect(page.locator(f'[data-queue-row="{before}"]')).to_be_visible(timeout=15_000)
            ended = httpx.post(
                f"{cluster}/api/auth/signout", headers={"Authorization": f"Bearer {token}"}
            )
            assert ended.status_code == 200
            enders.add(ended.headers.get("x-threadline-worker", "?"))
            expect(page.locator(f'[data-queue-row="{before}"]')).to_have_count(0, timeout=15_000)
            mark = len(received)
            title = f"After the end {attempt}"
            after, _ = post(
                cluster, key, "approvalRequests:create", {"threadId": thread, "planContent": title}
            )
            expect(watcher.locator(f'[data-queue-row="{after}"]')).to_be_visible(timeout=15_000)
            watcher.wait_for_timeout(300)
            assert after not in "".join(received[mark:])
            page.context.close()
        browser.close()


def test_single_port_pages_and_api_carry_security_headers(cluster):
    page = httpx.get(f"{cluster}/signin", follow_redirects=True)
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'sha256-" in policy
    for response in (page, httpx.get(f"{cluster}/api/health")):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert (
        httpx.get(f"{cluster}/api/health")
        .headers["content-security-policy"]
        .startswith("default-src 'none'")
    )
