"""The console's seams as an outsider would try them: client tokens presented by a browser that
is not the tab they belong to, tabs whose session ended, the session cookie, response headers.

Each browser's websocket frames are recorded (page.on("websocket") / framereceived), so "no queue
data" is checked on what the server sent, not only on what the page shows.
"""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

OLD_SHARED_TOKEN = "approvals-inbox"


class Frames:
    """Every websocket frame a page receives, as text."""

    def __init__(self, page) -> None:
        self.received: list[str] = []
        page.on("websocket", self._socket)

    def _socket(self, socket) -> None:
        socket.on("framereceived", lambda frame: self.received.append(str(frame)))

    def text(self) -> str:
        return "\n".join(self.received)

    def mark(self) -> int:
        return len(self.received)

    def since(self, mark: int) -> str:
        return "\n".join(self.received[mark:])


def _presenting(tabs, client_token: str, who: str | None = None):
    """A new browser (context) that puts `client_token` in sessionStorage before the console's
    script runs, as a forged client would; signed in as `who`, or not at all."""
    page = tabs.new_page(who)
    page.add_init_script(f"window.sessionStorage.setItem('token', {client_token!r});")
    return page, Frames(page)


def _client_token(page) -> str:
    return page.evaluate("window.sessionStorage.getItem('token')")


def _wait_for_row(page, request_id: str) -> None:
    expect(page.locator(f'[data-queue-row="{request_id}"]')).to_be_visible()


def test_presented_tokens_receive_no_queue_data(tabs, console):
    _, _, first = console.plan_thread("Secret-title-one", "# Plan\n\nSecret-plan-one")
    owner = tabs.open("reviewer", "/approvals")
    _wait_for_row(owner, first)
    owner_token = _client_token(owner)
    assert owner_token

    # While the owner's tab is connected, and after it has gone (its state is still stored).
    intruders = [_presenting(tabs, token) for token in (OLD_SHARED_TOKEN, owner_token)]
    owner.close()
    intruders += [
        _presenting(tabs, token)
        for token in (owner_token, OLD_SHARED_TOKEN, str(uuid.uuid4()), "not-a-uuid")
    ]
    for page, _ in intruders:
        page.goto(console.url("/approvals"))
        expect(page).to_have_url(re.compile(r"/signin"))
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()

    # A request made now reaches a signed-in control tab, and none of the intruders.
    control = tabs.open("viewer", "/approvals")
    _wait_for_row(control, first)
    _, _, second = console.plan_thread("Secret-title-two", "# Plan\n\nSecret-plan-two")
    _wait_for_row(control, second)
    control.wait_for_timeout(500)

    for page, frames in intruders:
        received = frames.text()
        assert frames.received, "the intruder's socket received nothing at all: test is blind"
        for secret in ("Secret-title", "Secret-plan", first, second):
            assert secret not in received
        assert "Secret" not in page.content()
        expect(page.get_by_test_id("pending-count")).to_have_count(0)


def test_a_signed_in_browser_presenting_another_tabs_token_gets_none_of_its_state(tabs, console):
    admin = tabs.open("admin", "/admin/keys")
    admin.get_by_label("Key name").fill("shown once")
    admin.get_by_role("button", name="Create key").click()
    shown = admin.get_by_test_id("new-key")
    expect(shown).to_contain_text("tlk_")
    key = shown.inner_text().strip()
    admin_token = _client_token(admin)
    admin.close()  # its state (with the key shown once) stays stored under admin_token

    viewer, frames = _presenting(tabs, admin_token, who="viewer")
    viewer.goto(console.url("/admin/keys"))
    expect(viewer.get_by_text("not allowed", exact=False).first).to_be_visible()
    viewer.goto(console.url("/approvals"))
    expect(viewer.get_by_test_id("approvals-view")).to_be_visible()
    received = frames.text()
    assert key not in received and key[:12] not in received
    assert "Ada Admin" not in received  # nor who the tab belonged to
    expect(viewer.get_by_test_id("person-role")).to_have_text("viewer")


def _end_by_signout(console, who, token):
    console.http.post("/api/auth/signout", headers={"Authorization": f"Bearer {token}"})


def _end_by_disabling(console, who, token):
    console.mutation(
        "users:setDisabled",
        {"userId": console.user_ids[who], "disabled": True},
        token=console.token("admin"),
    )


def _end_by_role_change(console, who, token):
    console.mutation(
        "users:setRole",
        {"userId": console.user_ids[who], "role": "user"},
        token=console.token("admin"),
    )


def _end_by_revoking(console, who, token):
    sessions = console.query("authSessions:mine", {}, token=token)
    mine = [s for s in sessions if s.get("current")]
    console.mutation(
        "authSessions:revoke", {"sessionId": mine[0]["_id"]}, token=console.token("admin")
    )


def _restore(console, who):
    admin = console.token("admin")
    console.mutation(
        "users:setDisabled", {"userId": console.user_ids[who], "disabled": False}, token=admin
    )
    console.mutation("users:setRole", {"userId": console.user_ids[who], "role": "reviewer"}, admin)


@pytest.mark.parametrize(
    "end", [_end_by_signout, _end_by_disabling, _end_by_role_change, _end_by_revoking]
)
def test_an_ended_session_stops_the_live_feed_at_once(tabs, console, end):
    who = "reviewer2"
    token = console.token(who)
    page = tabs.new_page(None)
    page.context.add_cookies(
        [{"name": "threadline_session", "value": token, "url": console.frontend_url}]
    )
    frames = Frames(page)
    page.goto(console.url("/approvals"))
    _, _, before = console.plan_thread("Before-the-end")
    _wait_for_row(page, before)
    control = tabs.open("viewer", "/approvals")
    _wait_for_row(control, before)
    try:
        end(console, who, token)
        # The tab's server-side state is wiped at once: the row it showed goes away.
        expect(page.locator(f'[data-queue-row="{before}"]')).to_have_count(0)
        mark = frames.mark()
        _, _, after = console.plan_thread("After-the-end", "# Plan\n\nAfter-the-end-plan")
        _wait_for_row(control, after)
        control.wait_for_timeout(500)
        assert "After-the-end" not in frames.since(mark)
        assert after not in frames.since(mark)
        expect(page.locator(f'[data-queue-row="{after}"]')).to_have_count(0)
    finally:
        _restore(console, who)


def test_the_session_cookie_is_http_only_and_set_by_the_server(tabs, console):
    from tests.e2e.conftest import PEOPLE

    page = tabs.open(None, "/signin")
    email, name, password = PEOPLE["reviewer"]
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_response(re.compile(r"/api/auth/console-session$")) as answer:
        page.get_by_role("button", name="Sign in").click()
    set_cookie = answer.value.header_value("set-cookie") or ""
    assert "threadline_session=tls_" in set_cookie
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie.replace("Strict", "strict")
    assert "Secure" not in set_cookie  # PUBLIC_URL is not https here
    expect(page).to_have_url(re.compile(r"/approvals/?$"))
    expect(page.get_by_text(name)).to_be_visible()

    assert "threadline_session" not in page.evaluate("document.cookie")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "threadline_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"

    # No state var carries the token to the page either.
    assert cookie["value"] not in page.content()

    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url(re.compile(r"/signin/?$"))
    assert not [c for c in page.context.cookies() if c["name"] == "threadline_session"]
    # The session is over on the server too.
    ended = console.http.post(
        "/api/query",
        json={"path": "threads:list", "args": {}},
        headers={"Authorization": f"Bearer {cookie['value']}"},
    )
    assert ended.status_code == 401


def test_a_sign_in_code_works_once_and_only_for_its_tab(tabs, console):
    response = console.http.post(
        "/api/auth/console-session", json={"tab": str(uuid.uuid4()), "code": "guess"}
    )
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    bad = console.http.post("/api/auth/console-session", json={"tab": 1})
    assert bad.status_code == 400


def test_pages_and_answers_carry_security_headers_and_the_console_breaks_none(tabs, console):
    thread_id, _, request_id = console.plan_thread("Headers and policy")
    page = tabs.new_page("reviewer")
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused to" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: violations.append(str(error)))
    answer = page.goto(console.url("/approvals"))
    headers = answer.headers
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    _wait_for_row(page, request_id)

    # Pages that render agent text, toasts (run by eval), navigation and a decision.
    page.goto(console.url(f"/threads/{thread_id}"))
    expect(page.get_by_role("heading", name="Headers and policy")).to_be_visible()
    page.goto(console.url(f"/approvals/{request_id}"))
    page.get_by_test_id("decision-comment").fill("Fine by me")
    page.get_by_role("button", name="Approve").first.click()
    expect(page.get_by_text("Approved.")).to_be_visible()
    page.goto(console.url("/threads"))
    expect(page.get_by_role("heading", name="Threads", exact=True)).to_be_visible()
    assert violations == []

    for path, method in (("/api/health", "GET"), ("/api/query", "POST"), ("/version", "GET")):
        response = console.http.request(method, path, json={} if method == "POST" else None)
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_an_expired_session_stops_the_live_feed_when_it_expires(tabs, console, monkeypatch):
    """Nothing announces an expiry: the tab is ended at its session's deadline, with no event
    in between, and gets nothing after it."""
    from api.settings import get_settings

    monkeypatch.setenv("SESSION_ABSOLUTE_SECONDS", "8")  # the server runs in this process
    get_settings.cache_clear()
    try:
        token = console.token("reviewer2")
    finally:
        monkeypatch.delenv("SESSION_ABSOLUTE_SECONDS")
        get_settings.cache_clear()
    page = tabs.new_page(None)
    page.context.add_cookies(
        [{"name": "threadline_session", "value": token, "url": console.frontend_url}]
    )
    frames = Frames(page)
    page.goto(console.url("/approvals"))
    _, _, before = console.plan_thread("Before-expiry")
    _wait_for_row(page, before)

    # No change, no sign-out: the row goes when the session expires.
    expect(page.locator(f'[data-queue-row="{before}"]')).to_have_count(0, timeout=30_000)
    mark = frames.mark()
    control = tabs.open("viewer", "/approvals")
    _, _, after = console.plan_thread("After-expiry", "# Plan\n\nAfter-expiry-plan")
    _wait_for_row(control, after)
    control.wait_for_timeout(500)
    assert "After-expiry" not in frames.since(mark)
    assert after not in frames.since(mark)
