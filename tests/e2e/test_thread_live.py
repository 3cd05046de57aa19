"""The live thread view in a real browser: rows posted over HTTP appear without a reload, the
rows already shown stay as they are (same DOM nodes, not sent again), the page follows the latest
row when the reader is at the bottom and offers "Jump to latest" when they scrolled up; a tab
whose session ended receives nothing more."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.test_live_security import Frames

pytestmark = pytest.mark.e2e

LAST_ENTRY_IN_VIEW = """() => {
  const all = document.querySelectorAll('[data-testid=timeline] .timeline-entry');
  const last = all[all.length - 1];
  return last.getBoundingClientRect().bottom <= window.innerHeight + 48;
}"""


def _message(console, thread_id: str, content: str, role: str = "assistant") -> str:
    return console.mutation(
        "messages:create", {"threadId": thread_id, "role": role, "content": content}
    )


def _open_live(tabs, who: str, thread_id: str):
    page = tabs.open(who, f"/threads/{thread_id}")
    page.wait_for_function("window.__threadlineLiveThread === true")
    return page


def test_new_rows_appear_live_follow_at_the_bottom_and_offer_jump_to_latest(
    tabs, console, screenshots
):
    thread_id = console.mutation("threads:create", {"title": "Live run"})
    for index in range(30):
        _message(console, thread_id, f"Earlier step {index}: read the code and plan the change.")
    page = tabs.new_page("reviewer", 1440, 900)
    frames = Frames(page)
    page.goto(console.url(f"/threads/{thread_id}"))
    page.wait_for_function("window.__threadlineLiveThread === true")
    entries = page.get_by_test_id("timeline").locator(".timeline-entry")
    expect(entries).to_have_count(30)
    # Marks on the page and on every row shown: a reload or a rebuilt row loses them.
    page.evaluate("window.__sameDocument = true")
    entries.evaluate_all("els => els.forEach(e => { e.__shownBefore = true; })")

    # At the bottom: new rows are followed.
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_function(LAST_ENTRY_IN_VIEW)
    mark = frames.mark()
    first = _message(console, thread_id, "Live-one: **compiling** now")
    tool = console.mutation(
        "toolCalls:record",
        {
            "threadId": thread_id,
            "toolName": "run_tests",
            "input": {"args": ["-q"]},
            "output": {"passed": 12},
            "durationMs": 830,
        },
    )
    expect(entries).to_have_count(32)
    assert entries.evaluate_all("els => els.slice(-2).map(e => e.dataset.id)") == [first, tool]
    expect(entries.nth(30).locator("strong")).to_have_text("compiling")
    expect(entries.nth(31)).to_contain_text("run_tests")
    assert page.evaluate("window.__sameDocument") is True
    kept = entries.evaluate_all("els => els.slice(0, 30).every(e => e.__shownBefore === true)")
    assert kept, "rows already shown were rebuilt"
    page.wait_for_function(LAST_ENTRY_IN_VIEW)
    expect(page.get_by_test_id("jump-to-latest")).to_be_hidden()
    sent = frames.since(mark)
    assert "Live-one" in sent and "run_tests" in sent
    assert "Earlier step 3:" not in sent, "the rows already shown were sent again"

    # Scrolled up: the page stays put and offers "Jump to latest".
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_function(f"!({LAST_ENTRY_IN_VIEW})()")
    latest = _message(console, thread_id, "Live-two: all tests pass, opening a pull request.")
    expect(entries).to_have_count(33)
    jump = page.get_by_test_id("jump-to-latest")
    expect(jump).to_be_visible()
    assert page.evaluate("window.scrollY") == 0
    page.screenshot(path=str(screenshots / "thread-live-desktop-light.png"))
    jump.click()
    page.wait_for_function(LAST_ENTRY_IN_VIEW)
    expect(jump).to_be_hidden()
    assert entries.last.get_attribute("data-id") == latest
    assert page.evaluate("window.__sameDocument") is True

    # Scrolling back down by hand hides it too.
    page.evaluate("window.scrollTo(0, 0)")
    _message(console, thread_id, "Live-three")
    expect(jump).to_be_visible()
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    expect(jump).to_be_hidden()


def test_an_empty_thread_fills_live(tabs, console):
    thread_id = console.mutation("threads:create", {"title": "Fresh run"})
    page = _open_live(tabs, "viewer", thread_id)
    expect(page.get_by_text("No messages or tool calls yet")).to_be_visible()
    _message(console, thread_id, "The very first line", role="user")
    entries = page.get_by_test_id("timeline").locator(".timeline-entry")
    expect(entries).to_have_count(1)
    expect(entries.first).to_contain_text("The very first line")


def test_a_thread_tab_only_receives_rows_of_its_own_thread(tabs, console):
    watched = console.mutation("threads:create", {"title": "Watched"})
    elsewhere = console.mutation("threads:create", {"title": "Elsewhere"})
    page = tabs.new_page("reviewer")
    frames = Frames(page)
    page.goto(console.url(f"/threads/{watched}"))
    expect(page.get_by_text("No messages or tool calls yet")).to_be_visible()
    secret = f"elsewhere-{uuid.uuid4().hex}"
    _message(console, elsewhere, secret)
    _message(console, watched, "here-row")
    expect(page.get_by_test_id("timeline").locator(".timeline-entry")).to_have_count(1)
    page.wait_for_timeout(300)
    assert secret not in frames.text()


def test_a_thread_tab_whose_session_ended_receives_no_more_rows(tabs, console):
    who = "reviewer2"
    token = console.token(who)
    thread_id = console.mutation("threads:create", {"title": "Ends midway"})
    _message(console, thread_id, "Before the end")
    page = tabs.new_page(None)
    page.context.add_cookies(
        [{"name": "threadline_session", "value": token, "url": console.frontend_url}]
    )
    frames = Frames(page)
    page.goto(console.url(f"/threads/{thread_id}"))
    entries = page.get_by_test_id("timeline").locator(".timeline-entry")
    expect(entries).to_have_count(1)
    control = _open_live(tabs, "viewer", thread_id)
    control_entries = control.get_by_test_id("timeline").locator(".timeline-entry")
    expect(control_entries).to_have_count(1)

    console.http.post("/api/auth/signout", headers={"Authorization": f"Bearer {token}"})
    # The tab's state is wiped at once: the rows it showed go away.
    expect(entries).to_have_count(0)
    mark = frames.mark()
    after = f"after-the-end-{uuid.uuid4().hex}"
    after_id = _message(console, thread_id, after)
    expect(control_entries).to_have_count(2)
    control.wait_for_timeout(500)
    assert after not in frames.since(mark) and after_id not in frames.since(mark)
    expect(page.get_by_text(after)).to_have_count(0)


def test_a_live_tool_call_shows_when_it_finishes(tabs, console):
    thread_id = console.mutation("threads:create", {"title": "Tool run"})
    page = _open_live(tabs, "reviewer", thread_id)
    # Recorded once the page has loaded, so that the call arrives as a live row (a started call
    # loaded with the page shows its finish on reload only).
    expect(page.get_by_text("No messages or tool calls yet")).to_be_visible()
    call = {"threadId": thread_id, "toolName": "deploy", "toolCallId": "c-1", "input": {}}
    call_id = console.mutation("toolCalls:record", {**call, "status": "started"})
    row = page.locator(f'[data-id="{call_id}"]')
    expect(row.locator("[data-status=started]")).to_be_visible()
    console.mutation("toolCalls:record", {**call, "status": "succeeded", "output": {"ok": 1}})
    expect(row.locator("[data-status=succeeded]")).to_be_visible()
    expect(page.get_by_test_id("timeline").locator(".timeline-entry")).to_have_count(1)
