"""Downloads served as HTTP attachments (api/exports.py, issue 9 item 8): who may download what
(the same answers as threads:get), refusal of requests other sites start, the headers and types,
and a huge thread streamed a page at a time without holding up the event loop."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
import sqlalchemy as sa

from api import exports
from tests.conftest import bearer
from tests.test_export_inert import HOSTILE, assert_inert, render

UNKNOWN_THREAD = "thr_00000000000000000000000000"


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"threadline_session={token}"}


@pytest.fixture
async def filled(api) -> dict[str, str]:
    """A thread with a session, messages, a tool call, an artifact and an approval request."""
    thread = await api.mutation("threads:create", {"title": "Export me"})
    await api.mutation("sessions:upsert", {"threadId": thread, "phase": "planning"})
    for text in ("first", "second"):
        await api.mutation(
            "messages:create", {"threadId": thread, "role": "assistant", "content": text}
        )
    await api.mutation(
        "toolCalls:record", {"threadId": thread, "toolName": "ls", "input": {"path": "."}}
    )
    artifact = await api.mutation(
        "artifacts:create", {"threadId": thread, "type": "plan", "content": "# Plan v1"}
    )
    await api.mutation("artifacts:update", {"artifactId": artifact, "content": "# Plan v2"})
    request = await api.mutation(
        "approvalRequests:create", {"threadId": thread, "planContent": "# The plan\n\nDo it."}
    )
    return {"thread": thread, "artifact": artifact, "request": request}


async def test_the_json_export_is_an_attachment_with_everything_in_the_thread(
    http, api, people, filled
):
    thread = filled["thread"]
    answer = await http.get(
        f"/api/export/threads/{thread}.json", headers=cookie(people["viewer"]["token"])
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    name = f"Export-me-{thread}.json"
    assert answer.headers["content-disposition"] == (
        f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"
    )
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    assert answer.headers["cache-control"] == "no-store"
    data = answer.json()
    assert data["thread"] == await api.query("threads:get", {"threadId": thread})
    assert data["session"] == await api.query("sessions:get", {"threadId": thread})
    assert data["messages"] == await api.query("messages:list", {"threadId": thread})
    assert data["toolCalls"] == await api.query("toolCalls:list", {"threadId": thread})
    assert [a["_id"] for a in data["artifacts"]] == [filled["artifact"]]
    assert data["artifacts"][0]["content"] == "# Plan v2"
    assert [r["_id"] for r in data["approvalRequests"]] == [filled["request"]]


async def test_the_markdown_export_is_an_inert_attachment(http, api, people, thread_id):
    for text in HOSTILE:
        await api.mutation(
            "messages:create", {"threadId": thread_id, "role": "assistant", "content": text}
        )
    await api.mutation(
        "toolCalls:record",
        {"threadId": thread_id, "toolName": HOSTILE[1], "input": {"x": "```\n<img src=x>"}},
    )
    answer = await http.get(
        f"/api/export/threads/{thread_id}.md", headers=cookie(people["reviewer"]["token"])
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/markdown; charset=utf-8"
    assert answer.headers["content-disposition"].startswith('attachment; filename="Test-thread-')
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.text.startswith("# Test thread\n")
    assert "~~~text\n<script>alert(1)</script>\n~~~" in answer.text
    assert_inert(render(answer.text))


def test_the_streamed_json_is_what_json_dumps_writes():
    thread = {"_id": "thr_1", "title": 'naïve "quotes"\nline', "metadata": {"a": [1, {}]}}
    lists = {
        "messages": [{"_id": "m1", "content": "x\ny", "metadata": {}}, {"_id": "m2", "n": 1.5}],
        "toolCalls": [],
        "artifacts": [{"_id": "a1", "nested": {"deep": [[], [1, 2], {"k": None}]}}],
        "approvalRequests": [],
    }
    expected = json.dumps(
        {"thread": thread, "session": None, **lists}, indent=2, ensure_ascii=False
    )

    assert "".join(exports.json_pieces(thread, None, lists)) == expected


async def test_without_credentials_the_export_answers_401(http, thread_id):
    for headers in ({}, cookie("tls_not-a-session"), bearer("tlk_not-a-key")):
        answer = await http.get(f"/api/export/threads/{thread_id}.json", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["code"] == "Unauthenticated"
        assert "content-disposition" not in answer.headers


async def test_an_ended_session_cannot_download(http, people, thread_id):
    token = people["viewer"]["token"]
    signed_out = await http.post("/api/auth/signout", headers=bearer(token))
    assert signed_out.status_code == 200
    answer = await http.get(f"/api/export/threads/{thread_id}.md", headers=cookie(token))
    assert answer.status_code == 401


async def test_end_users_download_only_their_own_threads_and_others_look_missing(
    http, api, people, thread_id
):
    user = people["user"]
    own = await api.mutation("threads:create", {"title": "Mine", "userId": user["id"]})
    mine = await http.get(f"/api/export/threads/{own}.json", headers=bearer(user["token"]))
    other = await http.get(f"/api/export/threads/{thread_id}.json", headers=bearer(user["token"]))
    missing = await http.get(
        f"/api/export/threads/{UNKNOWN_THREAD}.json", headers=bearer(user["token"])
    )

    assert mine.status_code == 200 and mine.json()["thread"]["_id"] == own
    # As threads:get answers null for both: another person's thread looks like no thread.
    assert other.status_code == missing.status_code == 404
    assert other.json()["code"] == "NotFound"
    assert await api.query("threads:get", {"threadId": thread_id}, bearer(user["token"])) is None


async def test_a_backend_key_or_a_bearer_session_downloads_too(http, key_headers, people, filled):
    for headers in (key_headers, bearer(people["admin"]["token"])):
        answer = await http.get(f"/api/export/threads/{filled['thread']}.md", headers=headers)
        assert answer.status_code == 200
        assert "### assistant · #1" in answer.text and "### tool ls" in answer.text


async def test_unknown_and_malformed_threads_answer_404(http, people):
    headers = cookie(people["viewer"]["token"])
    for thread in (UNKNOWN_THREAD, "not-an-id"):
        answer = await http.get(f"/api/export/threads/{thread}.json", headers=headers)
        assert answer.status_code == 404, (thread, answer.text)
    nul = await http.get("/api/export/threads/thr_%00.json", headers=headers)
    assert nul.status_code == 400 and "NUL" in nul.json()["message"]
    nowhere = await http.get(f"/api/export/threads/{UNKNOWN_THREAD}.pdf", headers=headers)
    assert nowhere.status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://attacker.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://threadline.test.attacker.example"},
    ],
)
async def test_requests_started_by_another_site_are_refused(http, people, thread_id, headers):
    answer = await http.get(
        f"/api/export/threads/{thread_id}.json",
        headers={**cookie(people["admin"]["token"]), **headers},
    )

    assert answer.status_code == 403
    assert answer.json()["code"] == "CrossSiteRequest"
    assert "content-disposition" not in answer.headers


async def test_the_console_itself_may_download(http, people, thread_id):
    for headers in (
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://threadline.test"},
        {"Sec-Fetch-Site": "none"},
        {},
    ):
        answer = await http.get(
            f"/api/export/threads/{thread_id}.json",
            headers={**cookie(people["viewer"]["token"]), **headers},
        )
        assert answer.status_code == 200, headers


async def test_same_site_is_refused_unless_the_console_pages_live_on_another_port(
    http, people, thread_id, monkeypatch
):
    url = f"/api/export/threads/{thread_id}.json"
    headers = {**cookie(people["viewer"]["token"]), "Sec-Fetch-Site": "same-site"}
    one_port = ("http://localhost:3000", "http://localhost:3000")
    monkeypatch.setattr(exports, "_console_origins", lambda: one_port)
    assert (await http.get(url, headers=headers)).status_code == 403

    split = ("http://localhost:3000", "http://localhost:8000")
    monkeypatch.setattr(exports, "_console_origins", lambda: split)
    assert (await http.get(url, headers=headers)).status_code == 200
    # The pages' origin is one of this server's; another is not.
    framed = {**headers, "Origin": "http://localhost:3000"}
    assert (await http.get(url, headers=framed)).status_code == 200
    foreign = {**headers, "Origin": "http://localhost:4444"}
    assert (await http.get(url, headers=foreign)).status_code == 403


def test_file_names_come_from_the_title_reduced_to_safe_characters():
    header = exports.content_disposition('Plan "final"\r\n/../\u202egpj.md', "thr_1", "md")
    assert header == (
        'attachment; filename="Plan-final-gpj.md-thr_1.md"; '
        "filename*=UTF-8''Plan-final-gpj.md-thr_1.md"
    )
    unicode = exports.content_disposition("Überprüfung: 計画 ✅", "thr_2", "json")
    assert unicode == (
        'attachment; filename="Uberprufung-thr_2.json"; '
        "filename*=UTF-8''%C3%9Cberpr%C3%BCfung-%E8%A8%88%E7%94%BB-thr_2.json"
    )
    assert exports.content_disposition("", "thr_3", "md").startswith(
        'attachment; filename="thr_3.md"'
    )
    long = exports.content_disposition("x" * 5000, "thr_4", "md")
    assert len(long) < 300


async def test_head_answers_the_headers_without_building_the_export(http, people, filled):
    reads = []
    exports.page_reads.append(lambda kind, rows: reads.append(kind))
    try:
        answer = await http.head(
            f"/api/export/threads/{filled['thread']}.json",
            headers=cookie(people["viewer"]["token"]),
        )
    finally:
        exports.page_reads.clear()
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert reads == []


async def test_a_200000_message_thread_is_streamed_a_page_at_a_time_off_the_loop(
    database_url, api, people, thread_id
):
    if not database_url.startswith("sqlite"):
        pytest.skip("paging does not depend on the database; SQLite fills 200,000 rows fastest")
    count = 200_000
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.connection.driver_connection.executemany(
            'INSERT INTO messages (id, creation_time, thread_id, role, content, "order") '
            "VALUES (?, ?, ?, 'assistant', ?, ?)",
            ((f"msg_fill{i:022d}", 1.0 + i, thread_id, f"line {i}", i) for i in range(count)),
        )
    engine.dispose()
    await api.mutation("toolCalls:record", {"threadId": thread_id, "toolName": "t", "input": {}})

    from api.http import create_api

    app = create_api()
    reads: list[tuple[str, int]] = []
    threads: set[int] = set()

    def on_page(kind: str, rows: int) -> None:
        reads.append((kind, rows))
        threads.add(threading.get_ident())

    exports.page_reads.append(on_page)
    bodies: list[tuple[int, bool]] = []
    counted: list[int] = []
    start: dict = {}
    done = asyncio.Event()

    async def receive():
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            bodies.append((len(body), message.get("more_body", False)))
            counted.append(body.count(b'"role": "assistant"'))

    token = people["viewer"]["token"].encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": f"/api/export/threads/{thread_id}.json",
        "raw_path": b"",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"threadline.test"), (b"cookie", b"threadline_session=" + token)],
        "client": ("127.0.0.1", 1),
        "server": ("threadline.test", 80),
    }
    try:
        await app(scope, receive, send)
    finally:
        done.set()
        exports.page_reads.clear()

    assert start["status"] == 200
    assert not any(name == b"content-length" for name, _ in start["headers"])
    assert sum(counted) == count  # every message, once (a chunk never splits a document's role)
    message_pages = [rows for kind, rows in reads if kind == "messages"]
    assert len(message_pages) >= count // exports.PAGE_ROWS
    assert max(message_pages) <= exports.PAGE_ROWS
    # Streamed: many chunks, none much larger than CHUNK_CHARS plus one document.
    assert len(bodies) > 50
    assert max(size for size, _ in bodies) < 2 * exports.CHUNK_CHARS * 4
    assert [more for _, more in bodies[:-1]] == [True] * (len(bodies) - 1)
    # Every page was read (and formatted) in the query threads, never on the event loop.
    assert threads and threading.get_ident() not in threads


async def test_an_artifact_version_downloads_verbatim_as_an_attachment(http, people, filled):
    artifact = filled["artifact"]
    headers = cookie(people["viewer"]["token"])
    first = await http.get(f"/api/export/artifacts/{artifact}/versions/1.md", headers=headers)
    second = await http.get(f"/api/export/artifacts/{artifact}/versions/2.md", headers=headers)
    missing = await http.get(f"/api/export/artifacts/{artifact}/versions/3.md", headers=headers)

    assert (first.text, second.text) == ("# Plan v1", "# Plan v2")
    assert first.headers["content-type"] == "text/markdown; charset=utf-8"
    assert first.headers["content-disposition"].startswith(
        f'attachment; filename="plan-v1-{artifact}.md"'
    )
    assert first.headers["x-content-type-options"] == "nosniff"
    assert missing.status_code == 404
    crossed = await http.get(
        f"/api/export/artifacts/{artifact}/versions/1.md",
        headers={**headers, "Sec-Fetch-Site": "cross-site"},
    )
    assert crossed.status_code == 403
    nobody = await http.get(f"/api/export/artifacts/{artifact}/versions/1.md")
    assert nobody.status_code == 401


async def test_a_plan_downloads_verbatim_as_an_attachment(http, people, filled):
    request = filled["request"]
    answer = await http.get(
        f"/api/export/approvalRequests/{request}/plan.md",
        headers=cookie(people["reviewer"]["token"]),
    )
    assert answer.status_code == 200
    assert answer.text == "# The plan\n\nDo it."
    assert answer.headers["content-disposition"].startswith(
        f'attachment; filename="plan-{request}.md"'
    )
    other = await http.get(
        f"/api/export/approvalRequests/{request}/plan.md",
        headers=bearer(people["user"]["token"]),
    )
    assert other.status_code == 404  # not the end user's thread: as if it did not exist
