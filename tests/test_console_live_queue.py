"""The live inbox's payload and the session-cookie plumbing, without a browser (the browser side
is tests/e2e/test_live_security.py)."""

from __future__ import annotations

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
        await api.mutation("approvalRequests:create", {"threadId": thread, "planContent": big_plan})
    inbox = await reviewer.query("inbox:pending", {"limit": QUEUE_LIMIT})
    assert inbox["count"] == QUEUE_LIMIT
    assert all("planContent" not in doc for doc in inbox["requests"])  # never the whole plan

    rows, count = queue_rows(inbox)
    assert count == QUEUE_LIMIT and len(rows) == QUEUE_LIMIT
    assert set(rows[0]) == {
        "_id",
        "threadId",
        "threadTitle",
        "artifactId",
        "planPreview",
        "createdIso",
    }
    assert rows[0]["planPreview"].startswith("# Plan \U0001f4a5")
    assert rows[0]["threadTitle"].endswith("…") and len(rows[0]["threadTitle"].encode()) <= 240
    # As Reflex puts it on the socket (its JSON, UTF-8).
    size = len(json_dumps({"requests": rows, "count": count}).encode())
    assert size <= MAX_CHANGE_BYTES, size
    assert len(json.dumps(rows[0]).encode()) > 300  # the content really was hostile


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
