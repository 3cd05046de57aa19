"""Convex's wire format and Threadline's HTTP details: request and answer shapes, credentials,
paths, encoded JSON, sign-in and sign-out, idempotent retries, /version and /api/health.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time

import pytest

from api import __version__
from api.services import signin
from tests.conftest import bearer

# Transport details that touch no table are checked on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def as_integer(value: int) -> dict:
    return {"$integer": base64.b64encode(struct.pack("<q", value)).decode()}


def as_float(value: float) -> dict:
    return {"$float": base64.b64encode(struct.pack("<d", value)).decode()}


async def post_json(http, endpoint: str, body, headers: dict, **extra_headers):
    return await http.post(
        endpoint, content=json.dumps(body).encode(), headers={**headers, **extra_headers}
    )


async def message_count(api, thread_id: str) -> int:
    return len(await api.query("messages:list", {"threadId": thread_id}))


# -- answers


@sqlite_only
async def test_success_answer_has_status_value_and_log_lines(http, key_headers):
    response = await post_json(
        http, "/api/mutation", {"path": "threads:create", "args": {"title": "x"}}, key_headers
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "value", "logLines"}
    assert body["status"] == "success"
    assert body["value"].startswith("thr_")
    assert body["logLines"] == []


@sqlite_only
async def test_a_function_error_is_http_200_with_a_message_naming_the_field(http, key_headers):
    response = await post_json(
        http,
        "/api/mutation",
        {"path": "messages:create", "args": {"threadId": 5, "role": "user", "content": "x"}},
        key_headers,
    )

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "errorMessage", "logLines"}
    assert body["status"] == "error"
    assert body["errorMessage"] == (
        "Invalid arguments for messages:create: threadId: Input should be a valid string"
    )


@sqlite_only
async def test_a_conflict_carries_error_data(api, as_role, thread_id):
    request_id = await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "p"}
    )
    await api.mutation("approvalRequests:cancel", {"approvalRequestId": request_id})

    response = await api.raw(
        "/api/mutation", "approvalRequests:cancel", {"approvalRequestId": request_id}
    )

    body = response.json()
    assert body["status"] == "error"
    assert body["errorData"] == {"status": "cancelled", "decidedBy": None}


# -- arguments


@sqlite_only
async def test_args_may_be_an_object_or_an_array_holding_one_object(api, http, key_headers):
    as_object = await post_json(
        http, "/api/mutation", {"path": "threads:create", "args": {"title": "obj"}}, key_headers
    )
    as_array = await post_json(
        http, "/api/mutation", {"path": "threads:create", "args": [{"title": "arr"}]}, key_headers
    )

    for response, title in ((as_object, "obj"), (as_array, "arr")):
        thread_id = response.json()["value"]
        assert (await api.query("threads:get", {"threadId": thread_id}))["title"] == title


@sqlite_only
async def test_missing_or_null_args_count_as_an_empty_object(api, http, key_headers):
    without = await post_json(http, "/api/mutation", {"path": "threads:create"}, key_headers)
    null = await post_json(
        http, "/api/mutation", {"path": "threads:create", "args": None}, key_headers
    )

    assert without.json()["status"] == "success"
    assert null.json()["status"] == "success"


@sqlite_only
@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (
            [{"title": "a"}, {"title": "b"}],
            "args must be an object or an array holding exactly one object",
        ),
        ([], "args must be an object or an array holding exactly one object"),
        (["title"], "args must be an object, not str"),
        ("title", "args must be an object, not str"),
        (5, "args must be an object, not int"),
        (True, "args must be an object, not bool"),
    ],
)
async def test_args_of_another_shape_are_an_error_and_store_nothing(api, args, problem):
    response = await api.raw("/api/mutation", "threads:create", args)

    assert response.status_code == 200
    assert response.json()["status"] == "error"
    assert response.json()["errorMessage"] == problem
    listed = await api.query("threads:list", {"paginationOpts": {"numItems": 5, "cursor": None}})
    assert listed["page"] == []


# -- credentials


@sqlite_only
@pytest.mark.parametrize("scheme", ["Bearer", "Convex", "bearer", "CONVEX"])
async def test_an_api_key_is_accepted_after_bearer_or_convex(http, api_key, scheme):
    response = await post_json(
        http,
        "/api/mutation",
        {"path": "threads:create", "args": {}},
        {"Authorization": f"{scheme} {api_key}"},
    )

    assert response.status_code == 200
    assert response.json()["status"] == "success"


@sqlite_only
@pytest.mark.parametrize(
    "header",
    ["Basic {key}", "{key}", "Bearer", "Bearer ", "Token {key}", "Bearer{key}"],
)
async def test_other_authorization_forms_are_refused_with_401(http, api_key, header):
    response = await post_json(
        http,
        "/api/mutation",
        {"path": "threads:create", "args": {}},
        {"Authorization": header.format(key=api_key)},
    )

    assert response.status_code == 401
    assert response.json()["code"] == "Unauthenticated"


@sqlite_only
async def test_a_session_token_is_accepted_after_bearer(http, people):
    response = await post_json(
        http, "/api/query", {"path": "users:me", "args": {}}, bearer(people["viewer"]["token"])
    )

    assert response.json()["value"]["email"] == people["viewer"]["email"]


# -- bodies


@sqlite_only
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"],
)
async def test_the_body_is_json_whatever_the_content_type_says(
    api, http, key_headers, content_type
):
    headers = dict(key_headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = json.dumps({"path": "threads:create", "args": {"title": "typed"}}).encode()

    response = await http.post("/api/mutation", content=body, headers=headers)

    assert "content-type" not in {k.lower() for k in response.request.headers} or content_type
    thread_id = response.json()["value"]
    assert (await api.query("threads:get", {"threadId": thread_id}))["title"] == "typed"


# -- paths


@sqlite_only
@pytest.mark.parametrize(
    "path", ["threads:create", "threads/create", "threads/create.js", " threads:create "]
)
async def test_mutation_paths_in_colon_or_slash_form(api, path):
    thread_id = await api.mutation(path, {"title": "pathy"})

    assert (await api.query("threads:get", {"threadId": thread_id}))["title"] == "pathy"


@sqlite_only
async def test_run_endpoint_calls_a_mutation_by_module_and_function(api, http, key_headers):
    response = await post_json(
        http, "/api/run/threads/create", {"args": {"title": "run"}}, key_headers
    )

    thread_id = response.json()["value"]
    assert (await api.query("threads:get", {"threadId": thread_id}))["title"] == "run"


@sqlite_only
async def test_run_endpoint_calls_a_query_too(api, http, key_headers, thread_id):
    response = await post_json(
        http, "/api/run/threads/get", {"args": {"threadId": thread_id}}, key_headers
    )

    assert response.json()["value"]["_id"] == thread_id


@sqlite_only
async def test_run_endpoint_ignores_a_path_in_the_body(api, http, key_headers):
    response = await post_json(
        http,
        "/api/run/threads/create",
        {"path": "threads:remove", "args": {"title": "run"}},
        key_headers,
    )

    assert response.json()["status"] == "success"
    assert response.json()["value"].startswith("thr_")


@sqlite_only
@pytest.mark.parametrize("endpoint", ["/api/mutation", "/api/query", "/api/run/nope/nothing"])
async def test_an_unknown_function_is_http_200_with_status_error(http, key_headers, endpoint):
    response = await post_json(http, endpoint, {"path": "nope:nothing", "args": {}}, key_headers)

    assert response.status_code == 200
    assert response.json()["status"] == "error"
    assert response.json()["errorMessage"] == "Could not find public function for 'nope:nothing'"


@sqlite_only
@pytest.mark.parametrize("path", [None, "", 5, ["threads:create"]])
async def test_a_missing_or_non_string_path_is_an_error(http, key_headers, path):
    body = {"args": {}} if path is None else {"path": path, "args": {}}

    response = await post_json(http, "/api/mutation", body, key_headers)

    assert response.status_code == 200
    assert response.json()["errorMessage"] == (
        "path must be a non-empty string like 'artifacts:create'"
    )


@sqlite_only
async def test_a_query_path_on_the_mutation_endpoint_is_an_error(api, thread_id):
    message = await api.mutation_error("threads:get", {"threadId": thread_id})

    assert message == "threads:get is a query; call it through /api/query, not /api/mutation"


@sqlite_only
async def test_a_mutation_path_on_the_query_endpoint_is_an_error_and_applies_nothing(
    api, thread_id
):
    message = await api.query_error(
        "messages:create", {"threadId": thread_id, "role": "user", "content": "x"}
    )

    assert message == "messages:create is a mutation; call it through /api/mutation, not /api/query"
    assert await message_count(api, thread_id) == 0


# -- encoded JSON


@sqlite_only
async def test_convex_encoded_integers_and_floats_are_decoded(api, thread_id):
    response = await api.raw(
        "/api/mutation",
        "messages:create",
        {"threadId": thread_id, "role": "user", "content": "x", "order": as_integer(5)},
        format="convex_encoded_json",
    )
    assert response.json()["status"] == "success"
    await api.raw(
        "/api/mutation",
        "toolCalls:record",
        {
            "threadId": thread_id,
            "toolName": "t",
            "input": {"n": as_integer(-2), "items": [as_integer(2**40)]},
            "durationMs": as_float(12.5),
        },
        format="convex_encoded_json",
    )

    (message,) = await api.query("messages:list", {"threadId": thread_id})
    assert message["order"] == 5
    (call,) = await api.query("toolCalls:list", {"threadId": thread_id})
    assert call["input"] == {"n": -2, "items": [2**40]}
    assert call["durationMs"] == 12.5


@sqlite_only
async def test_plain_json_format_refuses_dollar_objects(api, thread_id):
    """In plain JSON, {"$integer": ...} is not decoded; it is not stored either, since Convex
    clients would read it back as a number, not as the object sent (CONTRACT.md "Additions")."""
    response = await api.raw(
        "/api/mutation",
        "toolCalls:record",
        {"threadId": thread_id, "toolName": "t", "input": as_integer(3)},
        format="json",
    )

    assert response.json()["status"] == "error"
    assert response.json()["errorMessage"].startswith(
        'args.input has the key "$integer", which Convex clients cannot read'
    )
    assert await api.query("toolCalls:list", {"threadId": thread_id}) == []


@sqlite_only
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"$integer": "not base64!"}, "$integer value is not valid base64 of 8 bytes"),
        ({"$integer": base64.b64encode(b"1234").decode()}, "$integer value is not valid base64"),
        ({"$integer": 5}, "$integer value is not valid base64 of 8 bytes"),
        ({"$float": "AAAA"}, "$float value is not valid base64 of 8 bytes"),
        ({"$bytes": "AAAA"}, "Unsupported encoded value type '$bytes'"),
        (as_float(float("nan")), "args.order"),
    ],
)
async def test_bad_encoded_values_are_an_error_and_store_nothing(api, thread_id, value, problem):
    response = await api.raw(
        "/api/mutation",
        "messages:create",
        {"threadId": thread_id, "role": "user", "content": "x", "order": value},
        format="convex_encoded_json",
    )

    assert response.status_code == 200
    assert response.json()["status"] == "error"
    assert problem in response.json()["errorMessage"]
    assert await message_count(api, thread_id) == 0


@sqlite_only
@pytest.mark.parametrize("fmt", ["xml", "", None, 1])
async def test_an_unknown_format_is_an_error(api, fmt):
    response = await api.raw("/api/mutation", "threads:create", {}, format=fmt)

    assert response.json()["errorMessage"] == "format must be 'json' or 'convex_encoded_json'"


# -- version and health


@sqlite_only
async def test_version_is_plain_text(http):
    response = await http.get("/version")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == __version__


async def test_health_reports_the_database(http):
    response = await http.get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "db": True}


# -- signing in and out


async def test_sign_in_answers_a_token_that_works(http, people):
    before = time.time() * 1000

    response = await http.post(
        "/api/auth/signin",
        json={"email": "reviewer@example.com", "password": "reviewer-password-1"},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["token"].startswith("tls_")
    assert body["expiresTime"] > before
    assert body["userId"] == people["reviewer"]["id"]
    me = await post_json(
        http, "/api/query", {"path": "users:me", "args": {}}, bearer(body["token"])
    )
    assert me.json()["value"]["_id"] == people["reviewer"]["id"]


@sqlite_only
async def test_sign_in_takes_the_email_in_any_case(http, people):
    response = await http.post(
        "/api/auth/signin", json={"email": " Viewer@EXAMPLE.com ", "password": "viewer-password-1"}
    )

    assert response.status_code == 200


async def test_wrong_password_and_unknown_email_get_the_identical_401(http, people):
    wrong_password = await http.post(
        "/api/auth/signin", json={"email": "admin@example.com", "password": "not-the-password"}
    )
    unknown_email = await http.post(
        "/api/auth/signin", json={"email": "ghost@example.com", "password": "not-the-password"}
    )

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.content == unknown_email.content
    assert wrong_password.json() == {
        "code": "Unauthenticated",
        "message": "Wrong email or password",
    }


async def test_too_many_failed_sign_ins_are_answered_429(http, people):
    for _ in range(signin.PER_ACCOUNT_AND_CLIENT.free):
        failed = await http.post(
            "/api/auth/signin", json={"email": "user@example.com", "password": "guess-guess"}
        )
        assert failed.status_code == 401

    response = await http.post(
        "/api/auth/signin", json={"email": "user@example.com", "password": "user-password-1"}
    )

    assert response.status_code == 429
    assert response.json()["code"] == "TooManyAttempts"
    assert int(response.headers["retry-after"]) > 0


@sqlite_only
@pytest.mark.parametrize(
    "body",
    [
        {"email": "admin@example.com"},
        {"password": "admin-password-1"},
        {"email": 5, "password": "admin-password-1"},
        {"email": "admin@example.com", "password": None},
    ],
)
async def test_sign_in_without_an_email_and_password_string_is_400(http, people, body):
    response = await http.post("/api/auth/signin", json=body)

    assert response.status_code == 400
    assert response.json() == {
        "code": "BadRequest",
        "message": 'Send {"email": string, "password": string}',
    }


UNSTORABLE_SIGN_INS = {
    "nul-email": b'{"email": "adm\\u0000in@example.com", "password": "admin-password-1"}',
    "nul-password": b'{"email": "admin@example.com", "password": "admin-pass\\u0000word-1"}',
    "surrogate-email": b'{"email": "adm\\ud800in@example.com", "password": "admin-password-1"}',
    "surrogate-password": b'{"email": "admin@example.com", "password": "admin-pass\\udc00word-1"}',
}


async def test_sign_in_with_text_no_database_stores_is_400(http, people):
    answers = {}
    for name, body in UNSTORABLE_SIGN_INS.items():
        response = await http.post("/api/auth/signin", content=body)
        answers[name] = (response.status_code, response.json()["code"])

    assert answers == dict.fromkeys(UNSTORABLE_SIGN_INS, (400, "BadRequest"))


@sqlite_only
async def test_sign_in_with_a_body_that_is_not_json_is_400(http):
    response = await http.post("/api/auth/signin", content=b"email=a&password=b")

    assert response.status_code == 400
    assert response.json()["code"] == "BadJsonBody"


async def test_sign_out_ends_the_token_at_once(http, people):
    token = people["reviewer"]["token"]
    assert (
        await post_json(http, "/api/query", {"path": "users:me", "args": {}}, bearer(token))
    ).status_code == 200

    response = await http.post("/api/auth/signout", headers=bearer(token))

    assert response.status_code == 200
    after = await post_json(http, "/api/query", {"path": "users:me", "args": {}}, bearer(token))
    assert after.status_code == 401
    assert after.json()["code"] == "Unauthenticated"
    again = await http.post("/api/auth/signout", headers=bearer(token))
    assert again.status_code == 401


@sqlite_only
async def test_sign_out_leaves_the_persons_other_sessions_alone(http, people):
    second = await http.post(
        "/api/auth/signin", json={"email": "viewer@example.com", "password": "viewer-password-1"}
    )
    await http.post("/api/auth/signout", headers=bearer(people["viewer"]["token"]))

    me = await post_json(
        http, "/api/query", {"path": "users:me", "args": {}}, bearer(second.json()["token"])
    )

    assert me.json()["value"]["email"] == "viewer@example.com"


@sqlite_only
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer tls_not-a-real-token"}])
async def test_sign_out_without_a_live_session_token_is_401(http, headers):
    response = await http.post("/api/auth/signout", headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "Unauthenticated"


@sqlite_only
async def test_sign_out_with_an_api_key_is_401_and_the_key_keeps_working(http, key_headers):
    response = await http.post("/api/auth/signout", headers=key_headers)

    assert response.status_code == 401
    still = await post_json(
        http, "/api/mutation", {"path": "threads:create", "args": {}}, key_headers
    )
    assert still.json()["status"] == "success"


# -- idempotent retries


def post_message(thread_id: str) -> dict:
    return {
        "path": "messages:create",
        "args": {"threadId": thread_id, "role": "assistant", "content": "once"},
    }


async def test_a_retry_with_the_same_idempotency_key_header_applies_once(
    api, http, key_headers, thread_id
):
    body = post_message(thread_id)

    first = await post_json(http, "/api/mutation", body, key_headers, **{"Idempotency-Key": "k-1"})
    retry = await post_json(http, "/api/mutation", body, key_headers, **{"Idempotency-Key": "k-1"})

    assert first.json()["status"] == "success"
    assert retry.json() == first.json()
    assert await message_count(api, thread_id) == 1


async def test_a_retry_with_the_same_idempotencyKey_field_applies_once(api, thread_id):
    first = await api.raw(
        "/api/mutation",
        "messages:create",
        {"threadId": thread_id, "role": "user", "content": "once"},
        idempotencyKey="body-key",
    )
    retry = await api.raw(
        "/api/mutation",
        "messages:create",
        {"threadId": thread_id, "role": "user", "content": "once"},
        idempotencyKey="body-key",
    )

    assert retry.json()["value"] == first.json()["value"]
    assert await message_count(api, thread_id) == 1


async def test_concurrent_retries_with_one_key_apply_once(api, http, key_headers, thread_id):
    body = post_message(thread_id)

    responses = await asyncio.gather(
        *[
            post_json(http, "/api/mutation", body, key_headers, **{"Idempotency-Key": "burst"})
            for _ in range(8)
        ]
    )

    assert len({r.json()["value"] for r in responses}) == 1
    assert await message_count(api, thread_id) == 1


@sqlite_only
async def test_different_idempotency_keys_apply_separately(api, http, key_headers, thread_id):
    body = post_message(thread_id)

    for key in ("a", "b"):
        await post_json(http, "/api/mutation", body, key_headers, **{"Idempotency-Key": key})

    assert await message_count(api, thread_id) == 2


@sqlite_only
async def test_a_mutation_without_a_key_applies_every_time(api, http, key_headers, thread_id):
    body = post_message(thread_id)

    for _ in range(2):
        await post_json(http, "/api/mutation", body, key_headers)

    assert await message_count(api, thread_id) == 2


async def test_the_same_key_for_another_function_is_an_error(api, http, key_headers, thread_id):
    await post_json(
        http, "/api/mutation", post_message(thread_id), key_headers, **{"Idempotency-Key": "dup"}
    )

    response = await post_json(
        http,
        "/api/mutation",
        {"path": "threads:create", "args": {"title": "other"}},
        key_headers,
        **{"Idempotency-Key": "dup"},
    )

    assert response.json()["status"] == "error"
    assert response.json()["errorMessage"] == (
        "Idempotency-Key 'dup' was already used for messages:create"
    )
    listed = await api.query("threads:list", {"paginationOpts": {"numItems": 10, "cursor": None}})
    assert [t["_id"] for t in listed["page"]] == [thread_id]


async def test_idempotency_keys_belong_to_their_caller(api, as_role, thread_id):
    body = {"threadId": thread_id, "role": "user", "content": "x"}

    await api.raw("/api/mutation", "messages:create", body, idempotencyKey="shared")
    await as_role("admin").raw("/api/mutation", "messages:create", body, idempotencyKey="shared")

    assert await message_count(api, thread_id) == 2


async def test_api_keys_create_refuses_an_idempotency_key(as_role, http, people):
    admin = as_role("admin")

    response = await post_json(
        http,
        "/api/mutation",
        {"path": "apiKeys:create", "args": {"name": "k"}},
        admin.headers,
        **{"Idempotency-Key": "key-1"},
    )

    assert response.json()["status"] == "error"
    assert response.json()["errorMessage"] == (
        "apiKeys:create shows a secret once and cannot take an Idempotency-Key"
    )
    assert await admin.query("apiKeys:list") == []


@sqlite_only
async def test_an_idempotency_key_on_a_query_is_an_error(api, thread_id):
    response = await api.raw(
        "/api/query", "threads:get", {"threadId": thread_id}, idempotencyKey="q"
    )

    assert response.json()["errorMessage"] == "Idempotency-Key applies to mutations only"


async def assert_key_refused(api, http, key_headers, thread_id, key, problem) -> None:
    body = {**post_message(thread_id), "idempotencyKey": key}

    response = await http.post(
        "/api/mutation", content=json.dumps(body).encode(), headers=key_headers
    )

    assert response.status_code == 200
    assert response.json()["status"] == "error"
    assert response.json()["errorMessage"] == problem
    assert await message_count(api, thread_id) == 0


@sqlite_only
@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "Idempotency-Key must be 1 to 200 characters"),
        ("k" * 201, "Idempotency-Key must be 1 to 200 characters"),
        (5, "idempotencyKey must be a string"),
        (["k"], "idempotencyKey must be a string"),
    ],
    ids=["empty", "too-long", "number", "array"],
)
async def test_a_bad_idempotencyKey_is_an_error_and_applies_nothing(
    api, http, key_headers, thread_id, key, problem
):
    await assert_key_refused(api, http, key_headers, thread_id, key, problem)


# PostgreSQL refused these itself, with an unclear "Internal error", before they were checked.
@pytest.mark.parametrize("key", ["nul\x00key", "half\ud800key"], ids=["nul", "surrogate"])
async def test_an_idempotencyKey_no_database_stores_is_an_error_and_applies_nothing(
    api, http, key_headers, thread_id, key
):
    problem = "Idempotency-Key must not contain NUL characters or unpaired surrogates"

    await assert_key_refused(api, http, key_headers, thread_id, key, problem)
