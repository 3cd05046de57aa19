"""Races between concurrent callers on the account paths, and inputs at the edges of what the
columns and parsers hold: each must get a clear answer, never a 500, and rules must hold."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from api.calls import call
from api.errors import FunctionError
from api.registry import Caller
from api.services import links, signin
from tests.conftest import bearer
from tests.test_concurrency import in_threads


async def test_parallel_wrong_passwords_cannot_outrun_the_throttle(people, http):
    email = people["viewer"]["email"]
    responses = await asyncio.gather(
        *[
            http.post("/api/auth/signin", json={"email": email, "password": f"guess-{i}"})
            for i in range(25)
        ]
    )
    statuses = [r.status_code for r in responses]
    free = signin.PER_ACCOUNT_AND_CLIENT.free
    assert statuses.count(401) == free
    assert statuses.count(429) == 25 - free


async def test_a_setup_link_creates_one_admin_even_when_redeemed_twice_at_once(database_url):
    token = links.create_setup_link
    issued = await token()
    secret = issued.path.split("token=")[1]

    def redeem(index: int) -> str:
        async def run() -> str:
            try:
                return await links.complete_setup(
                    secret, f"admin{index}@example.com", "A", "a good password"
                )
            except FunctionError as exc:
                return exc.message

        return asyncio.run(run())

    results = await asyncio.to_thread(in_threads, 4, redeem)
    assert sum(r.startswith("usr_") for r in results) == 1, results


async def test_a_password_link_works_once_even_when_redeemed_twice_at_once(as_role, people):
    created = await as_role("admin").mutation(
        "users:passwordLink", {"userId": people["viewer"]["id"]}
    )
    secret = created["path"].split("token=")[1]

    def redeem(index: int) -> str:
        async def run() -> str:
            try:
                return await links.redeem_password_link(secret, f"new password {index}")
            except FunctionError as exc:
                return exc.message

        return asyncio.run(run())

    results = await asyncio.to_thread(in_threads, 4, redeem)
    assert results.count(people["viewer"]["email"]) == 1, results


async def test_two_admins_demoted_at_once_leave_one_admin(people, as_role):
    second = await as_role("admin").mutation(
        "users:create", {"email": "second@example.com", "name": "Second", "role": "admin"}
    )
    admin = Caller(kind="user", id=people["admin"]["id"], role="admin", label="a")

    def demote(index: int) -> str:
        target = [people["admin"]["id"], second][index]

        async def run() -> str:
            try:
                await call("users:setRole", {"userId": target, "role": "viewer"}, admin)
                return "demoted"
            except FunctionError as exc:
                return exc.message

        return asyncio.run(run())

    results = await asyncio.to_thread(in_threads, 2, demote)
    assert results.count("demoted") == 1, results
    admins = await as_role("reviewer").query_error("users:list", {})  # not theirs to see
    assert "Not allowed" in admins
    from api.db import get_engine

    with get_engine().connect() as conn:
        left = conn.exec_driver_sql("SELECT count(*) FROM users WHERE role = 'admin'").scalar_one()
    assert left == 1


@pytest.mark.parametrize("row_id", ["a\ud800b", "a\x00b", "thr_short", 7])
async def test_a_crafted_cursor_is_a_clear_error(api, row_id):
    raw = json.dumps([1.0, row_id]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    message = await api.query_error(
        "threads:list", {"paginationOpts": {"numItems": 5, "cursor": cursor}}
    )
    assert "paginationOpts.cursor is not a cursor" in message


async def test_deeply_nested_convex_encoded_args_are_a_clear_error(http, key_headers):
    nested = "[" * 900 + "]" * 900
    body = (
        '{"path": "threads:create", "format": "convex_encoded_json", "args": {"metadata": {"a": '
        + nested
        + "}}}"
    )
    response = await http.post("/api/mutation", content=body, headers=key_headers)
    assert response.status_code == 200
    assert "nested too deeply" in response.json()["errorMessage"]


async def test_an_overlong_email_at_sign_in_is_the_usual_401(database_url, http):
    response = await http.post(
        "/api/auth/signin", json={"email": "a" * 300 + "@x.com", "password": "whatever123"}
    )
    assert response.status_code == 401
    assert response.json()["message"] == "Wrong email or password"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("threads:create", "userId"),
        ("toolCalls:record", "toolName"),
        ("toolCalls:record", "toolCallId"),
    ],
)
async def test_values_longer_than_their_columns_are_refused_by_name(api, thread_id, path, field):
    args = (
        {"threadId": thread_id, "toolName": "t", "input": {}} if path == "toolCalls:record" else {}
    )
    message = await api.mutation_error(path, {**args, field: "u" * 300})
    assert field in message and "200" in message


async def test_a_retried_password_change_replays_instead_of_failing(people, http):
    viewer = people["viewer"]
    body = {
        "path": "users:changePassword",
        "args": {"currentPassword": viewer["password"], "newPassword": "a brand new one"},
    }
    headers = {**bearer(viewer["token"]), "Idempotency-Key": "change-1"}
    first = await http.post("/api/mutation", json=body, headers=headers)
    again = await http.post("/api/mutation", json=body, headers=headers)
    assert first.json()["status"] == again.json()["status"] == "success"


async def test_wrong_current_passwords_count_as_failed_sign_ins(people, as_role, monkeypatch):
    monkeypatch.setattr(signin, "PER_ACCOUNT_AND_CLIENT", signin.Backoff(free=3))
    viewer = as_role("viewer")
    args = {"currentPassword": "not it at all", "newPassword": "a brand new one"}
    messages = [await viewer.mutation_error("users:changePassword", args) for _ in range(4)]
    assert messages[:3] == ["currentPassword is not your current password"] * 3
    assert "Too many failed sign-in attempts" in messages[3]


async def test_changing_the_password_signs_out_the_other_sessions(people, http, as_role):
    viewer = people["viewer"]
    other = (await signin.sign_in(viewer["email"], viewer["password"])).token
    await as_role("viewer").mutation(
        "users:changePassword",
        {"currentPassword": viewer["password"], "newPassword": "a brand new one"},
    )
    me = {"path": "users:me", "args": {}}
    assert (await http.post("/api/query", json=me, headers=bearer(other))).status_code == 401
    assert (
        await http.post("/api/query", json=me, headers=bearer(viewer["token"]))
    ).status_code == 200
