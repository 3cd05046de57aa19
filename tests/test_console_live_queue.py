"""The live inbox's payload and the session-cookie plumbing, without a browser (the browser side
is tests/e2e/test_live_security.py)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from reflex_base.utils.format import json_dumps

from api.http import create_api
from app.state import QUEUE_LIMIT, cookie_token, queue_rows, session_key

# 500 pending requests with huge plans and the longest titles must still fit in this.
MAX_CHANGE_BYTES = 512 * 1024


@pytest.fixture
def reviewer(as_role):
    return as_role("reviewer")


async def test_a_change_sends_what_the_inbox_shows_bounded_whatever_the_plans_size(
    api, reviewer, database_url
):
    if not database_url.startswith("sqlite"):
        pytest.skip("the payload's bound does not depend on the database (SQLite covers it)")
    # Titles at their 1,000-character limit and plans in 4-byte characters: the worst case.
    title = "\U0001f600" * 1000
    big_plan = "# Plan\n\n" + "\U0001f4a5" * 100_000
    thread = await api.mutation("threads:create", {"title": title})
    for _ in range(QUEUE_LIMIT):
        await api.mutation(
            "approvalRequests:create",
            {
                "threadId": thread,
                "planContent": big_plan,
                "timeoutMs": 2_592_000_000,
                "requiredApprovals": 5,
            },
        )
    inbox = await reviewer.query("inbox:pending", {"limit": QUEUE_LIMIT})
    assert inbox["count"] == QUEUE_LIMIT
    assert all("planContent" not in doc for doc in inbox["requests"])  # never the whole plan

    rows, count = queue_rows(inbox)
    assert count == QUEUE_LIMIT and len(rows) == QUEUE_LIMIT
    assert {field.name for field in dataclasses.fields(rows[0])} == {
        "_id",
        "threadId",
        "threadTitle",
        "artifactId",
        "planPreview",
        "createdIso",
        "claimedBy",
        "claimedByName",
        "expires",
        "approvals",
        "approvers",
    }
    assert rows[0].planPreview.startswith("# Plan \U0001f4a5")
    assert rows[0].threadTitle.endswith("…") and len(rows[0].threadTitle.encode()) <= 240
    # As Reflex puts it on the socket (its JSON, UTF-8).
    size = len(json_dumps({"requests": rows, "count": count}).encode())
    # Who approved is cut too (one line; the detail page lists them in full).
    names = [{**doc, "approverNames": ["\U0001f600" * 200] * 5} for doc in inbox["requests"]]
    size = max(
        size,
        len(
            json_dumps(
                {"requests": queue_rows({"requests": names, "count": count})[0], "count": count}
            ).encode()
        ),
    )
    assert size <= MAX_CHANGE_BYTES, size
    # the content really was hostile
    assert len(json.dumps(dataclasses.asdict(rows[0])).encode()) > 300


def test_the_session_token_is_read_from_the_cookie_header_only_when_it_is_one():
    assert cookie_token("a=1; threadline_session=tls_abc; b=2") == "tls_abc"
    assert cookie_token("threadline_session=tlk_key") == ""  # an API key is not a session
    assert cookie_token("") == cookie_token(None) == ""
    assert cookie_token('threadline_session="tls_' + "x" * 300 + '"') == ""
    assert cookie_token("threadline_session=tls_a; =;;; bad\x00") in ("", "tls_a")
    assert session_key("") == "" and len(session_key("tls_abc")) == 64


def test_the_api_alone_serves_no_cookie_endpoints():
    """The cookie endpoints live with the console (app/session_cookie.py), which owns the tabs'
    state; the plain API (tests, backends) does not answer them."""
    paths = {route.path for route in create_api().routes}
    assert "/api/auth/console-session" not in paths


async def test_a_tab_whose_session_expires_is_ended_when_it_expires(
    people, monkeypatch, database_url
):
    """Expiry publishes nothing: the live queue's timer wakes at the tab's session deadline and
    ends the tab (its state wiped) without any event; a tab still live keeps going."""
    import asyncio
    import time

    from api import auth
    from api.services import signin
    from api.settings import get_settings
    from app.state import LiveQueue

    monkeypatch.setenv("SESSION_ABSOLUTE_SECONDS", "1")
    get_settings.cache_clear()
    short = await signin.sign_in(people["viewer"]["email"], people["viewer"]["password"])
    monkeypatch.delenv("SESSION_ABSOLUTE_SECONDS")
    get_settings.cache_clear()
    long = people["reviewer"]["token"]

    queue = LiveQueue()
    ended: list[str] = []
    woke = asyncio.Event()

    async def end(tab: str) -> None:  # what _end does to the tab's state is tested in e2e
        ended.append(tab)
        queue.forget(tab)
        woke.set()

    monkeypatch.setattr(queue, "_end", end)
    short_session = auth.session_for_token(short.token)
    assert short_session is not None
    deadline = auth.session_deadline(short_session)
    assert deadline <= time.time() * 1000 + 1000
    queue.register("tab-short", session_key(short.token), deadline)
    # A live session's tab registered with a deadline already past (say, idle time that was
    # since renewed by use): it is checked, found live and given its real deadline.
    queue.register("tab-long", session_key(long), time.time() * 1000 - 1)

    await asyncio.wait_for(woke.wait(), timeout=30)

    assert ended == ["tab-short"]
    assert "tab-short" not in queue.tabs and "tab-short" not in queue.deadlines
    assert queue.deadlines["tab-long"] > time.time() * 1000 + 3600_000
    assert queue.timer is not None  # armed for the live tab's deadline
    queue.timer.cancel()


def test_a_sessions_deadline_is_its_absolute_or_idle_expiry_whichever_is_first():
    from api import auth
    from api.settings import get_settings

    idle_ms = get_settings().session_idle_seconds * 1000
    assert auth.session_deadline({"expires_time": 10**13, "last_seen_time": 5000}) == (
        5000 + idle_ms
    )
    assert auth.session_deadline({"expires_time": 6000, "last_seen_time": 5000}) == 6000
