"""Bad input posted to /api/mutation: every answer is a 4xx or HTTP 200 `status: error` (never a
5xx), and nothing is stored. Hostile but valid text (SQL, HTML) is stored and answered verbatim.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.registry import is_convex_key
from api.settings import get_settings

MIB = 1024 * 1024
# Rejected before any database work: checked on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def stored(api, thread_id: str) -> dict[str, Any]:
    """Everything a mutation posted here could have written, read back through the API."""
    threads = await api.query(
        "threads:list", {"paginationOpts": {"numItems": 1000, "cursor": None}}
    )
    return {
        "threads": threads["page"],
        "messages": await api.query("messages:list", {"threadId": thread_id}),
        "artifacts": await api.query("artifacts:list", {}),
        "toolCalls": await api.query("toolCalls:list", {"threadId": thread_id}),
        "session": await api.query("sessions:get", {"threadId": thread_id}),
        "requests": await api.query("approvalRequests:list", {}),
    }


def message_body(thread_id: str, **args) -> dict:
    return {
        "path": "messages:create",
        "args": {"threadId": thread_id, "role": "user", "content": "x", **args},
    }


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"down": value}
    return value


def raw(text: str) -> bytes:
    return text.encode()


# (id, body maker: thread_id -> bytes, expected HTTP status, fragment of the message)
# Not a JSON object at all: 400 before any function runs (and before any table is read).
NOT_AN_OBJECT = [
    ("malformed-json", lambda t: b'{"path": "messages:create", "args": {', 400, "not valid JSON"),
    ("trailing-garbage", lambda t: b'{"path": "threads:create"} and more', 400, "not valid JSON"),
    ("single-quotes", lambda t: b"{'path': 'threads:create'}", 400, "not valid JSON"),
    ("array", lambda t: raw(json.dumps([message_body(t)])), 400, "must be a JSON object"),
    ("string", lambda t: b'"messages:create"', 400, "must be a JSON object"),
    ("number", lambda t: b"42", 400, "must be a JSON object"),
    ("null", lambda t: b"null", 400, "must be a JSON object"),
    ("boolean", lambda t: b"true", 400, "must be a JSON object"),
    ("empty", lambda t: b"", 400, "empty"),
    ("whitespace", lambda t: b"  \n\t ", 400, "empty"),
    (
        "not-utf8",
        lambda t: b'{"path": "threads:create", "args": {"title": "\xff\xfe"}}',
        400,
        "UTF-8",
    ),
    (
        "nested-100000-deep",
        lambda t: b'{"path": "threads:create", "args": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        400,
        "nested too deeply",
    ),
    (
        "integer-with-5000-digits",
        lambda t: raw(json.dumps(message_body(t))[:-2] + ', "order": ' + "9" * 5000 + "}}"),
        400,
        "not valid JSON",
    ),
]
# JSON objects with bad arguments: HTTP 200, status error, a message naming the field.
BAD_ARGUMENTS = [
    ("content-number", lambda t: raw(json.dumps(message_body(t, content=5))), 200, "content: "),
    ("content-null", lambda t: raw(json.dumps(message_body(t, content=None))), 200, "content: "),
    ("role-unknown", lambda t: raw(json.dumps(message_body(t, role="root"))), 200, "role: "),
    ("threadId-list", lambda t: raw(json.dumps(message_body([t]))), 200, "threadId: "),
    (
        "missing-content",
        lambda t: raw(
            json.dumps({"path": "messages:create", "args": {"threadId": t, "role": "user"}})
        ),
        200,
        "content: Field required",
    ),
    (
        "missing-everything",
        lambda t: raw(json.dumps({"path": "messages:create", "args": {}})),
        200,
        "threadId: Field required",
    ),
    (
        "unknown-field",
        lambda t: raw(json.dumps(message_body(t, sender="me"))),
        200,
        "sender: unknown field",
    ),
    (
        "args-string",
        lambda t: raw(json.dumps({"path": "messages:create", "args": "x"})),
        200,
        "args must be an object",
    ),
    (
        "metadata-70-deep",
        lambda t: raw(json.dumps(message_body(t, metadata=nested(70)))),
        200,
        "nested too deeply (more than 64 levels)",
    ),
    (
        "nul-in-content",
        lambda t: raw(json.dumps(message_body(t, content="be\x00fore"))),
        200,
        "args.content contains a NUL character",
    ),
    (
        "nul-in-metadata-key",
        lambda t: raw(json.dumps(message_body(t, metadata={"k\x00ey": 1}))),
        200,
        "args.metadata has a key containing a NUL character",
    ),
    (
        "nul-in-metadata-value",
        lambda t: raw(json.dumps(message_body(t, metadata={"a": ["ok", "n\x00ul"]}))),
        200,
        "args.metadata.a[1] contains a NUL character",
    ),
    (
        "nul-in-tool-input",
        lambda t: raw(
            json.dumps(
                {
                    "path": "toolCalls:record",
                    "args": {"threadId": t, "toolName": "x", "input": "\x00"},
                }
            )
        ),
        200,
        "args.input contains a NUL character",
    ),
    (
        "surrogate-in-content",
        lambda t: raw(json.dumps(message_body(t))).replace(b'"x"', b'"\\ud800"'),
        200,
        "args.content contains an unpaired surrogate, which is not valid Unicode",
    ),
    (
        "surrogate-in-metadata-value",
        lambda t: raw(json.dumps(message_body(t, metadata={"a": "S"}))).replace(
            b'"S"', b'"\\udfff"'
        ),
        200,
        "args.metadata.a contains an unpaired surrogate",
    ),
    (
        "surrogate-in-metadata-key",
        lambda t: raw(json.dumps(message_body(t, metadata={"S": 1}))).replace(b'"S"', b'"\\ud83d"'),
        200,
        "args.metadata has a key containing an unpaired surrogate",
    ),
    (
        "surrogate-in-path",
        lambda t: raw(json.dumps(message_body(t))).replace(
            b"messages:create", b"messages:create\\ud800"
        ),
        200,
        "Could not find public function for 'messages:create\\ud800'",
    ),
    (
        "nul-in-path",
        lambda t: raw(json.dumps(message_body(t))).replace(
            b"messages:create", b"messages\\u0000:create"
        ),
        200,
        "Could not find public function for 'messages\\x00:create'",
    ),
    (
        "NaN-literal",
        lambda t: raw(json.dumps(message_body(t))[:-2] + ', "order": NaN}}'),
        200,
        "args.order must be a finite number",
    ),
    (
        "Infinity-literal-in-metadata",
        lambda t: raw(json.dumps(message_body(t))[:-2] + ', "metadata": {"x": Infinity}}}'),
        200,
        "args.metadata.x must be a finite number",
    ),
    (
        "minus-Infinity-literal",
        lambda t: raw(json.dumps(message_body(t))[:-2] + ', "metadata": {"x": -Infinity}}}'),
        200,
        "args.metadata.x must be a finite number",
    ),
    (
        "number-overflowing-to-infinity",
        lambda t: raw(json.dumps(message_body(t))[:-2] + ', "metadata": {"x": 1e400}}}'),
        200,
        "args.metadata.x must be a finite number",
    ),
    ("order-negative", lambda t: raw(json.dumps(message_body(t, order=-1))), 200, "order: "),
    ("order-2-to-the-63", lambda t: raw(json.dumps(message_body(t, order=2**63))), 200, "order: "),
    (
        "order-10-to-the-30",
        lambda t: raw(json.dumps(message_body(t, order=10**30))),
        200,
        "order: ",
    ),
    ("order-1e20-float", lambda t: raw(json.dumps(message_body(t, order=1e20))), 200, "order: "),
    (
        "order-int32-overflow",
        lambda t: raw(json.dumps(message_body(t, order=2**31))),
        200,
        "order: ",
    ),
    (
        "content-over-8-mib",
        lambda t: raw(json.dumps(message_body(t, content="c" * (8 * MIB + 1)))),
        200,
        "content: String should have at most 8388608 characters",
    ),
    (
        "title-over-1000",
        lambda t: raw(json.dumps({"path": "threads:create", "args": {"title": "t" * 1001}})),
        200,
        "title: String should have at most 1000 characters",
    ),
]


async def assert_refused_cleanly(api, http, key_headers, thread_id, body_for, status, fragment):
    await api.mutation(
        "messages:create", {"threadId": thread_id, "role": "user", "content": "first"}
    )
    before = await stored(api, thread_id)

    response = await http.post("/api/mutation", content=body_for(thread_id), headers=key_headers)

    assert response.status_code == status, response.text[:300]
    body = response.json()
    if status == 200:
        assert body["status"] == "error"
        assert fragment in body["errorMessage"]
    else:
        assert body["code"] == "BadJsonBody"
        assert fragment in body["message"]
    assert await stored(api, thread_id) == before


@sqlite_only
@pytest.mark.parametrize(
    ("body_for", "status", "fragment"),
    [case[1:] for case in NOT_AN_OBJECT],
    ids=[case[0] for case in NOT_AN_OBJECT],
)
async def test_a_body_that_is_not_a_json_object_is_400_and_stores_nothing(
    api, http, key_headers, thread_id, body_for, status, fragment
):
    await assert_refused_cleanly(api, http, key_headers, thread_id, body_for, status, fragment)


@sqlite_only
@pytest.mark.parametrize(
    ("body_for", "status", "fragment"),
    [case[1:] for case in BAD_ARGUMENTS],
    ids=[case[0] for case in BAD_ARGUMENTS],
)
async def test_bad_arguments_are_a_function_error_and_store_nothing(
    api, http, key_headers, thread_id, body_for, status, fragment
):
    await assert_refused_cleanly(api, http, key_headers, thread_id, body_for, status, fragment)


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_bad_arguments_store_nothing_on_postgresql_either(api, http, key_headers, thread_id):
    """The same table on PostgreSQL, which refuses more than SQLite does (NUL, 32-bit orders)."""
    for name, body_for, status, fragment in BAD_ARGUMENTS:
        try:
            await assert_refused_cleanly(
                api, http, key_headers, thread_id, body_for, status, fragment
            )
        except AssertionError as exc:
            raise AssertionError(f"case {name}: {exc}") from exc


HOSTILE_TEXT = [
    "'); DROP TABLE threads; --",
    "Robert'); DROP TABLE messages;--",
    '" OR 1=1 --',
    "%' OR '1'='1",
    "1; DELETE FROM artifacts WHERE 1=1",
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "</textarea><svg onload=alert(1)>",
    "{{7*7}} ${7*7} #{7*7}",
    "\\x00 \\u0000 literal backslashes",
    "émoji \U0001f600 and right-to-left \u202e text",
]


async def test_hostile_text_is_stored_and_answered_verbatim(api):
    bystander = await api.mutation("threads:create", {"title": "bystander"})
    await api.mutation("messages:create", {"threadId": bystander, "role": "user", "content": "hi"})
    bystander_before = await stored(api, bystander)
    answered, expected = {}, {}

    for text in HOSTILE_TEXT:
        # As a key too, where Convex clients can read it (CONTRACT.md "Additions": printable
        # ASCII keys only; tests/test_convex_json.py has the others).
        metadata = {text: text} if is_convex_key(text) else {"text": text}
        thread_id = await api.mutation("threads:create", {"title": text, "metadata": metadata})
        await api.mutation(
            "messages:create", {"threadId": thread_id, "role": "user", "content": text}
        )
        artifact_id = await api.mutation(
            "artifacts:create",
            {"threadId": thread_id, "type": "report", "title": text, "content": text},
        )

        thread = await api.query("threads:get", {"threadId": thread_id})
        messages = await api.query("messages:list", {"threadId": thread_id})
        artifact = await api.query("artifacts:get", {"artifactId": artifact_id})
        found = await api.query(
            "threads:list", {"paginationOpts": {"numItems": 10, "cursor": None}, "search": text}
        )
        answered[text] = (
            thread["title"],
            thread["metadata"],
            [m["content"] for m in messages],
            artifact["title"],
            artifact["content"],
            [t["_id"] for t in found["page"]],
        )
        expected[text] = (text, metadata, [text], text, text, [thread_id])

    assert answered == expected
    # Nothing else changed: the other thread and its message are as they were.
    after = await stored(api, bystander)
    assert after["messages"] == bystander_before["messages"]
    assert [t for t in after["threads"] if t["_id"] == bystander] == [
        t for t in bystander_before["threads"] if t["_id"] == bystander
    ]
    assert len(after["threads"]) == len(bystander_before["threads"]) + len(HOSTILE_TEXT)


@pytest.fixture
def body_limit(monkeypatch):
    """A 4 KiB body limit, so that going over it is cheap."""
    monkeypatch.setenv("MAX_BODY_BYTES", "4096")
    get_settings.cache_clear()
    yield 4096
    get_settings.cache_clear()


def padded_body(thread_id: str, size: int) -> bytes:
    body = raw(json.dumps(message_body(thread_id, content="")))
    body = body.replace(b'"content": ""', b'"content": "' + b"p" * (size - len(body)) + b'"')
    assert len(body) == size
    return body


async def test_a_body_over_the_limit_is_413_and_stores_nothing(
    api, http, key_headers, thread_id, body_limit
):
    before = await stored(api, thread_id)

    response = await http.post(
        "/api/mutation", content=padded_body(thread_id, body_limit + 1), headers=key_headers
    )

    assert response.status_code == 413
    assert response.json() == {
        "code": "PayloadTooLarge",
        "message": f"Request body is larger than {body_limit} bytes",
    }
    assert await stored(api, thread_id) == before


async def test_a_body_at_the_limit_is_accepted(api, http, key_headers, thread_id, body_limit):
    response = await http.post(
        "/api/mutation", content=padded_body(thread_id, body_limit), headers=key_headers
    )

    assert response.json()["status"] == "success"
    assert len(await api.query("messages:list", {"threadId": thread_id})) == 1


@sqlite_only
async def test_a_chunked_body_over_the_limit_is_413_and_stores_nothing(
    api, http, key_headers, thread_id, body_limit
):
    body = padded_body(thread_id, body_limit * 3)

    async def chunks():
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    response = await http.post("/api/mutation", content=chunks(), headers=key_headers)

    assert response.status_code == 413
    assert response.json()["code"] == "PayloadTooLarge"
    assert await api.query("messages:list", {"threadId": thread_id}) == []


@sqlite_only
async def test_a_body_over_16_mib_is_413_and_stores_nothing(api, http, key_headers, thread_id):
    assert get_settings().max_body_bytes == 16 * MIB

    response = await http.post(
        "/api/mutation", content=padded_body(thread_id, 16 * MIB + 1), headers=key_headers
    )

    assert response.status_code == 413
    assert response.json()["code"] == "PayloadTooLarge"
    assert await api.query("messages:list", {"threadId": thread_id}) == []


@sqlite_only
async def test_bad_input_on_the_query_endpoint_is_refused_the_same_way(http, key_headers):
    not_json = await http.post("/api/query", content=b"{nope", headers=key_headers)
    not_object = await http.post("/api/query", content=b"[1]", headers=key_headers)
    bad_args = await http.post(
        "/api/query", json={"path": "threads:get", "args": {"threadId": 5}}, headers=key_headers
    )

    assert (not_json.status_code, not_json.json()["code"]) == (400, "BadJsonBody")
    assert (not_object.status_code, not_object.json()["code"]) == (400, "BadJsonBody")
    assert bad_args.status_code == 200
    assert "threadId: Input should be a valid string" in bad_args.json()["errorMessage"]
