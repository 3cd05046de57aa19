"""Browser tests against the production build of the console.

One AppHarnessProd (frontend exported once, backend in-process) serves the whole session on a
throwaway SQLite file; each test starts from empty thread data (people and the API key stay).
Chromium is Debian's (/usr/bin/chromium): Playwright cannot download browsers here.

    def test_x(console, reviewer_page): ...
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server_process import CHROMIUM, launch_chromium

REPO = Path(__file__).resolve().parents[2]
PEOPLE = {
    "admin": ("ada@example.com", "Ada Admin", "admin-password-1"),
    "reviewer": ("rita@example.com", "Rita Reviewer", "reviewer-password-1"),
    "reviewer2": ("rob@example.com", "Rob Reviewer", "reviewer2-password-1"),
    "viewer": ("vic@example.com", "Vic Viewer", "viewer-password-1"),
    "lockout": ("lou@example.com", "Lou Locked", "lockout-password-1"),
}
TIMEOUT_MS = 15_000


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def _require_tools() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("e2e tests need Debian's chromium: apt-get install -y chromium (make e2e-deps)")
    if shutil.which("bun") is None and not (REPO / ".tools/node_modules/.bin/bun").exists():
        pytest.skip("e2e tests need bun for the frontend build (make install)")


def _environment() -> None:
    os.environ["PATH"] = f"{REPO / '.tools/node_modules/.bin'}:{os.environ['PATH']}"
    os.environ.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
    os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")
    os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/")


async def _seed() -> tuple[dict[str, str], str]:
    from api.calls import call
    from api.cli import CLI_CALLER

    ids = {}
    for key, (email, name, password) in PEOPLE.items():
        role = "reviewer" if key.startswith("reviewer") or key == "lockout" else key
        ids[key] = await call(
            "users:create",
            {"email": email, "name": name, "role": role, "password": password},
            CLI_CALLER,
        )
    created = await call("apiKeys:create", {"name": "e2e backend"}, CLI_CALLER)
    return ids, created["key"]


@dataclass
class Console:
    """The running console: its URLs, an API client and helpers to seed data."""

    frontend_url: str
    backend_url: str
    api_key: str
    user_ids: dict[str, str]
    http: httpx.Client

    def url(self, path: str) -> str:
        return self.frontend_url.rstrip("/") + path

    def _post(self, endpoint: str, path: str, args: Any, token: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token or self.api_key}"}
        body = self.http.post(endpoint, json={"path": path, "args": args}, headers=headers).json()
        if body["status"] != "success":
            raise AssertionError(body.get("errorMessage"))
        return body["value"]

    def mutation(self, path: str, args: Any, token: str | None = None) -> Any:
        return self._post("/api/mutation", path, args, token)

    def query(self, path: str, args: Any, token: str | None = None) -> Any:
        return self._post("/api/query", path, args, token)

    def token(self, who: str) -> str:
        email, _, password = PEOPLE[who]
        response = self.http.post("/api/auth/signin", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["token"]

    def request(self, approval_request_id: str) -> dict[str, Any]:
        return self.query("approvalRequests:get", {"approvalRequestId": approval_request_id})

    def clear(self) -> None:
        """Removes every thread (and so every message, artifact, approval ...) through the API,
        which also refreshes the live queue in open tabs."""
        while True:
            page = self.query("threads:list", {"paginationOpts": {"numItems": 200, "cursor": None}})
            for thread in page["page"]:
                self.mutation("threads:remove", {"threadId": thread["_id"]})
            if page["isDone"]:
                return

    def plan_thread(self, title: str, plan: str = "# Plan\n\n1. Read the code\n2. Change it"):
        """A thread with a session, a plan artifact and a pending approval request for it."""
        thread_id = self.mutation("threads:create", {"title": title})
        artifact_id = self.mutation(
            "artifacts:create",
            {"threadId": thread_id, "type": "plan", "title": f"{title} plan", "content": plan},
        )
        self.mutation(
            "sessions:upsert",
            {"threadId": thread_id, "sdkSessionId": f"sdk-{title}", "phase": "awaiting_approval"},
        )
        request_id = self.mutation(
            "approvalRequests:create",
            {"threadId": thread_id, "planContent": plan, "artifactId": artifact_id},
        )
        return thread_id, artifact_id, request_id


@pytest.fixture(scope="session")
def console(tmp_path_factory) -> Iterator[Console]:
    _require_tools()
    _environment()
    from api import db, migrations, writer
    from api.settings import get_settings

    database = tmp_path_factory.mktemp("e2e") / "console.db"
    url = f"sqlite:///{database}"
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    db.reset_engines()
    writer.reset_writers()
    migrations.upgrade(url)
    user_ids, api_key = asyncio.run(_seed())
    writer.reset_writers()

    import reflex.utils.exec as reflex_exec
    from reflex.testing import AppHarnessProd

    from api.headers import SecurityHeaders

    # The harness serves the built pages from a server of its own: give it the headers that
    # `make run` (one port, rx.App's api_transformer) puts on them.
    plain_frontend = reflex_exec._frontend_prod_app
    reflex_exec._frontend_prod_app = lambda: SecurityHeaders(plain_frontend())
    harness = AppHarnessProd.create(root=REPO, app_name="app")
    with harness:
        from reflex_base.config import get_config

        backend_url = get_config().api_url
        with httpx.Client(base_url=backend_url, timeout=30) as http:
            yield Console(
                frontend_url=harness.frontend_url,
                backend_url=backend_url,
                api_key=api_key,
                user_ids=user_ids,
                http=http,
            )
    if previous is None:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = previous
    get_settings.cache_clear()
    db.reset_engines()
    writer.reset_writers()


# Module scope: the sync Playwright driver keeps an event loop running while it is open, which
# would stop async tests collected after the e2e ones from running.
@pytest.fixture(scope="module")
def browser(console):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def fresh_data(console):
    console.clear()
    yield


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("THREADLINE_SCREENSHOTS", REPO / "artifacts" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Tabs:
    """Opens signed-in tabs; records dialogs (alert/confirm) so tests can assert none fired."""

    def __init__(self, browser, console: Console) -> None:
        self.browser, self.console = browser, console
        self.contexts: list = []
        self.dialogs: list[str] = []

    def open(self, who: str | None, path: str = "/approvals", width: int = 1440, height: int = 900):
        page = self.new_page(who, width, height)
        page.goto(self.console.url(path))
        # The shortcut script is deferred; a key pressed before it runs does nothing.
        page.wait_for_function("window.__threadlineShortcuts === true")
        return page

    def new_page(self, who: str | None, width: int = 1440, height: int = 900):
        """A page in a new browser context, signed in as `who` (None: signed out)."""
        context = self.browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        if who is not None:
            context.add_cookies(
                [
                    {
                        "name": "threadline_session",
                        "value": self.console.token(who),
                        "url": self.console.frontend_url,
                    }
                ]
            )
        page = context.new_page()
        page.on("dialog", self._dialog)
        return page

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def tabs(browser, console) -> Iterator[Tabs]:
    opened = Tabs(browser, console)
    yield opened
    opened.close()


@pytest.fixture
def reviewer_page(tabs):
    return tabs.open("reviewer")
