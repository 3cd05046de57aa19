"""examples/chat-frontend in Chromium: the React app (ConvexReactClient, useQuery and
@convex-dev/auth's ConvexAuthProvider from npm, built by Vite) signs a person in against a real
Threadline server, lists their threads, and shows a message a backend posts without a reload."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from api.calls import call
from api.cli import CLI_CALLER
from tests.server_process import CHROMIUM, ServerProcess, free_port, launch_chromium

APP = Path(__file__).resolve().parent.parent / "examples" / "chat-frontend"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def built_app() -> Path:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium (make e2e-deps)")
    if shutil.which("npm") is None:
        pytest.skip("needs node and npm")
    if not (APP / "node_modules" / "vite").exists():
        subprocess.run(
            ["npm", "ci", "--no-fund", "--no-audit", "--loglevel=error"],
            cwd=APP,
            check=True,
            timeout=300,
        )
    subprocess.run(["npx", "vite", "build"], cwd=APP, check=True, timeout=300, capture_output=True)
    return APP


@pytest.fixture
def preview(built_app, database_url):
    server = ServerProcess(database_url).start()
    port = free_port()
    process = subprocess.Popen(
        ["npx", "vite", "preview", "--port", str(port), "--strictPort", "--host", "127.0.0.1"],
        cwd=built_app,
        env={**os.environ, "THREADLINE_URL": server.url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url, server
    os.killpg(process.pid, 15)
    process.wait(timeout=15)
    server.stop()


async def test_sign_in_list_threads_and_see_a_new_message_live(preview, people, api_key):
    from playwright.async_api import async_playwright, expect

    url, server = preview
    person = people["user"]
    thread_id = await call(
        "threads:create", {"title": "Trip to Lisbon", "userId": person["id"]}, CLI_CALLER
    )
    await call(
        "messages:create",
        {"threadId": thread_id, "role": "user", "content": "Plan my trip"},
        CLI_CALLER,
    )
    async with async_playwright() as playwright:
        browser = await launch_chromium(playwright)
        page = await browser.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(url)
        await page.get_by_label("Email").fill(person["email"])
        await page.get_by_label("Password").fill(person["password"])
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("button", name="Trip to Lisbon").click(timeout=20_000)
        messages = page.get_by_role("region", name="Messages")
        await expect(messages).to_contain_text("Plan my trip", timeout=15_000)
        # The agent's backend posts over HTTP; the open page shows it without a reload.
        async with httpx.AsyncClient(base_url=server.url) as http:
            response = await http.post(
                "/api/mutation",
                json={
                    "path": "messages:create",
                    "args": {
                        "threadId": thread_id,
                        "role": "assistant",
                        "content": "Day 1: Alfama",
                    },
                },
                headers={"Authorization": f"Bearer {api_key}"},
            )
            assert response.json()["status"] == "success", response.text
        await expect(messages).to_contain_text("Day 1: Alfama", timeout=10_000)
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=10_000)
        await browser.close()
    assert errors == []
