"""Account functions: users:*, apiKeys:*, auditLog:list (admins), and a person's own account.

Every caller other than an admin being refused is in test_permissions.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest

from tests.conftest import bearer

UNKNOWN_USER = "usr_00000000000000000000000000"
UNKNOWN_KEY = "key_00000000000000000000000000"
FIRST_PAGE = {"numItems": 100, "cursor": None}
# Argument validation happens before any database work: checked on SQLite only.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SECRET_FIELD = re.compile("hash|password|token|secret", re.IGNORECASE)


def assert_no_secrets(value: Any, *secrets: str) -> None:
    """No field named like a secret, no bcrypt hash, and none of the given secrets (nor their
    SHA-256, which is how keys and tokens are stored) anywhere in `value`."""

    def keys(node: Any):
        if isinstance(node, dict):
            for key, item in node.items():
                yield key
                yield from keys(item)
        elif isinstance(node, list):
            for item in node:
                yield from keys(item)

    assert not [key for key in keys(value) if SECRET_FIELD.search(key)]
    text = json.dumps(value)
    assert "$2b$" not in text
    for secret in secrets:
        assert secret not in text
        assert hashlib.sha256(secret.encode()).hexdigest() not in text


async def sign_in(http, email: str, password: str):
    return await http.post("/api/auth/signin", json={"email": email, "password": password})


async def audit_entries(admin, **filters) -> list[dict]:
    result = await admin.query("auditLog:list", {"paginationOpts": FIRST_PAGE, **filters})
    return result["page"]


async def test_me_answers_the_signed_in_persons_own_document(as_role, people):
    for role, person in people.items():
        me = await as_role(role).query("users:me")

        assert me == {
            "_id": person["id"],
            "_creationTime": me["_creationTime"],
            "email": person["email"],
            "name": role.title(),
            "role": role,
            "disabled": False,
            "updatedTime": me["updatedTime"],
        }, role
        assert_no_secrets(me, person["password"], person["token"])


async def test_create_user_makes_a_person_who_can_sign_in(as_role, http):
    admin = as_role("admin")

    user_id = await admin.mutation(
        "users:create",
        {"email": "ada@example.com", "name": "Ada", "role": "reviewer", "password": "lovelace-1"},
    )

    assert user_id.startswith("usr_")
    listed = await admin.query("users:list", {"paginationOpts": FIRST_PAGE})
    (ada,) = [u for u in listed["page"] if u["_id"] == user_id]
    assert (ada["email"], ada["name"], ada["role"], ada["disabled"]) == (
        "ada@example.com",
        "Ada",
        "reviewer",
        False,
    )
    response = await sign_in(http, "ada@example.com", "lovelace-1")
    assert response.status_code == 200
    assert set(response.json()) >= {"token", "expiresTime"}


async def test_create_user_stores_the_email_trimmed_and_lowercased(as_role, http):
    admin = as_role("admin")

    user_id = await admin.mutation(
        "users:create",
        {
            "email": "  Grace@Example.COM ",
            "name": " Grace ",
            "role": "viewer",
            "password": "hopper-12",
        },
    )

    listed = await admin.query("users:list", {"paginationOpts": FIRST_PAGE, "search": "grace"})
    assert [(u["_id"], u["email"], u["name"]) for u in listed["page"]] == [
        (user_id, "grace@example.com", "Grace")
    ]
    assert (await sign_in(http, "GRACE@example.com", "hopper-12")).status_code == 200


async def test_create_user_with_a_taken_email_is_an_error(as_role):
    admin = as_role("admin")

    message = await admin.mutation_error(
        "users:create", {"email": "Viewer@Example.com", "name": "Dup", "role": "viewer"}
    )

    assert message == "email: a person with the email viewer@example.com already exists"
    listed = await admin.query("users:list", {"paginationOpts": FIRST_PAGE})
    assert len(listed["page"]) == 4


async def test_create_user_without_a_password_makes_a_person_who_cannot_sign_in(as_role, http):
    await as_role("admin").mutation(
        "users:create", {"email": "nopw@example.com", "name": "No Password", "role": "viewer"}
    )

    response = await sign_in(http, "nopw@example.com", "")

    assert response.status_code == 401
    assert response.json() == {"code": "Unauthenticated", "message": "Wrong email or password"}


async def test_create_user_writes_an_audit_entry_without_the_password(as_role, people):
    admin = as_role("admin")

    user_id = await admin.mutation(
        "users:create",
        {"email": "eve@example.com", "name": "Eve", "role": "user", "password": "very-secret-9"},
    )

    (entry,) = await audit_entries(admin, action="user.create", target=user_id)
    assert entry["actor"] == f"user:{people['admin']['id']}"
    assert entry["details"] == {"after": {"email": "eve@example.com", "role": "user"}}
    assert_no_secrets(entry, "very-secret-9")


@sqlite_only
@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"email": "not-an-email"}, "email: String should match pattern"),
        ({"email": "a b@example.com"}, "email: String should match pattern"),
        ({"email": 5}, "email: Input should be a valid string"),
        ({"name": ""}, "name: String should have at least 1 character"),
        ({"name": "   "}, "name: String should have at least 1 character"),
        ({"role": "owner"}, "role: Input should be 'admin', 'reviewer', 'viewer' or 'user'"),
        ({"role": "Admin"}, "role: Input should be 'admin', 'reviewer', 'viewer' or 'user'"),
        ({"password": "short"}, "password must be at least 8 characters"),
        ({"password": "x" * 73}, "password must be at most 72 bytes"),
        ({"password": "é" * 37}, "password must be at most 72 bytes"),
        ({"password": 12345678}, "password: Input should be a valid string"),
        ({"passwordHash": "$2b$04$abc"}, "passwordHash: unknown field"),
        ({"disabled": True}, "disabled: unknown field"),
    ],
)
async def test_create_user_refuses_bad_arguments_and_creates_no_one(as_role, change, problem):
    admin = as_role("admin")
    args = {"email": "new@example.com", "name": "New", "role": "viewer", **change}

    message = await admin.mutation_error("users:create", args)

    assert problem in message
    listed = await admin.query("users:list", {"paginationOpts": FIRST_PAGE})
    assert len(listed["page"]) == 4


@sqlite_only
@pytest.mark.parametrize("missing", ["email", "name", "role"])
async def test_create_user_without_a_required_field_is_an_error_naming_it(as_role, missing):
    args = {"email": "new@example.com", "name": "New", "role": "viewer"}
    del args[missing]

    assert f"{missing}: Field required" in await as_role("admin").mutation_error(
        "users:create", args
    )


async def test_list_users_never_shows_password_hashes(as_role, people):
    listed = await as_role("admin").query("users:list", {"paginationOpts": FIRST_PAGE})

    assert {u["email"] for u in listed["page"]} == {p["email"] for p in people.values()}
    for person in listed["page"]:
        assert set(person) == {
            "_id",
            "_creationTime",
            "email",
            "name",
            "role",
            "disabled",
            "updatedTime",
        }
    assert_no_secrets(listed, *(p["password"] for p in people.values()))


async def test_list_users_filters_by_role_and_disabled(as_role, people):
    admin = as_role("admin")
    await admin.mutation("users:setDisabled", {"userId": people["viewer"]["id"], "disabled": True})

    async def emails(**filters) -> list[str]:
        result = await admin.query("users:list", {"paginationOpts": FIRST_PAGE, **filters})
        return sorted(u["email"] for u in result["page"])

    assert await emails(role="reviewer") == ["reviewer@example.com"]
    assert await emails(disabled=True) == ["viewer@example.com"]
    assert await emails(disabled=False, role="viewer") == []
    assert await emails(search="EXAMPLE.com") == sorted(p["email"] for p in people.values())


async def test_set_role_gives_the_new_rights_to_existing_sessions_at_once(api, as_role, people):
    thread_id = await api.mutation("threads:create", {"title": "t"})
    request_id = await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "p"}
    )
    viewer = as_role("viewer")
    assert "may not call approvalRequests:resolve" in await viewer.mutation_error(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )

    await as_role("admin").mutation(
        "users:setRole", {"userId": people["viewer"]["id"], "role": "reviewer"}
    )

    await viewer.mutation(
        "approvalRequests:resolve", {"approvalRequestId": request_id, "decision": "approved"}
    )
    assert (await viewer.query("users:me"))["role"] == "reviewer"


async def test_set_role_writes_an_audit_entry_with_before_and_after(as_role, people):
    admin = as_role("admin")

    await admin.mutation("users:setRole", {"userId": people["user"]["id"], "role": "viewer"})

    (entry,) = await audit_entries(admin, action="user.role")
    assert (entry["target"], entry["details"]) == (
        people["user"]["id"],
        {"before": "user", "after": "viewer"},
    )


async def test_set_role_to_the_same_role_changes_nothing(as_role, people):
    admin = as_role("admin")

    await admin.mutation("users:setRole", {"userId": people["viewer"]["id"], "role": "viewer"})

    assert await audit_entries(admin, action="user.role") == []


async def test_the_last_admin_cannot_be_demoted(as_role, people):
    admin = as_role("admin")

    message = await admin.mutation_error(
        "users:setRole", {"userId": people["admin"]["id"], "role": "viewer"}
    )

    assert message == "The last active admin cannot be demoted; make someone else admin first"
    assert (await admin.query("users:me"))["role"] == "admin"


async def test_an_admin_can_be_demoted_once_there_is_another(as_role, people):
    admin = as_role("admin")
    await admin.mutation("users:setRole", {"userId": people["reviewer"]["id"], "role": "admin"})

    await admin.mutation("users:setRole", {"userId": people["admin"]["id"], "role": "viewer"})

    assert (await admin.query("users:me"))["role"] == "viewer"
    assert "may not call users:list" in await admin.query_error(
        "users:list", {"paginationOpts": FIRST_PAGE}
    )


async def test_set_role_of_an_unknown_person_is_an_error(as_role):
    message = await as_role("admin").mutation_error(
        "users:setRole", {"userId": UNKNOWN_USER, "role": "viewer"}
    )

    assert message == f"User {UNKNOWN_USER} not found"


@sqlite_only
@pytest.mark.parametrize(
    ("path", "args", "problem"),
    [
        ("users:setRole", {"userId": "bob", "role": "viewer"}, "userId is not a valid user id"),
        ("users:setRole", {"userId": UNKNOWN_USER, "role": "root"}, "role: Input should be"),
        ("users:setRole", {"userId": UNKNOWN_USER}, "role: Field required"),
        ("users:setDisabled", {"userId": "bob", "disabled": True}, "userId is not a valid"),
        ("users:setDisabled", {"userId": UNKNOWN_USER, "disabled": "yes"}, "disabled: "),
        ("users:setDisabled", {"userId": UNKNOWN_USER, "disabled": 1}, "disabled: "),
        ("users:setDisabled", {"disabled": True}, "userId: Field required"),
    ],
)
async def test_account_changes_refuse_bad_arguments(as_role, path, args, problem):
    assert problem in await as_role("admin").mutation_error(path, args)


async def test_disabling_a_person_ends_their_sessions_at_once(as_role, people, http):
    await as_role("admin").mutation(
        "users:setDisabled", {"userId": people["reviewer"]["id"], "disabled": True}
    )

    response = await as_role("reviewer").raw("/api/query", "users:me", {})
    assert response.status_code == 401
    assert response.json()["code"] == "Unauthenticated"
    signin = await sign_in(http, people["reviewer"]["email"], people["reviewer"]["password"])
    assert signin.status_code == 401
    assert signin.json() == {"code": "Unauthenticated", "message": "Wrong email or password"}


async def test_a_re_enabled_person_can_sign_in_again(as_role, people, http):
    admin = as_role("admin")
    reviewer_id = people["reviewer"]["id"]
    await admin.mutation("users:setDisabled", {"userId": reviewer_id, "disabled": True})

    await admin.mutation("users:setDisabled", {"userId": reviewer_id, "disabled": False})

    signin = await sign_in(http, people["reviewer"]["email"], people["reviewer"]["password"])
    assert signin.status_code == 200
    fresh = bearer(signin.json()["token"])
    assert (await admin.query("users:me", headers=fresh))["_id"] == reviewer_id
    # The session that was ended stays ended.
    old = await as_role("reviewer").raw("/api/query", "users:me", {})
    assert old.status_code == 401
    actions = [e["action"] for e in await audit_entries(admin, target=reviewer_id)]
    assert actions[:3] == ["signin.success", "user.enable", "user.disable"]


async def test_the_last_admin_cannot_be_disabled(as_role, people):
    admin = as_role("admin")

    message = await admin.mutation_error(
        "users:setDisabled", {"userId": people["admin"]["id"], "disabled": True}
    )

    assert message == "The last active admin cannot be disabled"
    assert (await admin.query("users:me"))["disabled"] is False


async def test_set_disabled_of_an_unknown_person_is_an_error(as_role):
    message = await as_role("admin").mutation_error(
        "users:setDisabled", {"userId": UNKNOWN_USER, "disabled": True}
    )

    assert message == f"User {UNKNOWN_USER} not found"


async def test_change_password_replaces_the_password(as_role, people, http):
    viewer = people["viewer"]

    result = await as_role("viewer").mutation(
        "users:changePassword",
        {"currentPassword": viewer["password"], "newPassword": "a-new-password"},
    )

    assert result is None
    assert (await sign_in(http, viewer["email"], viewer["password"])).status_code == 401
    assert (await sign_in(http, viewer["email"], "a-new-password")).status_code == 200
    (entry,) = await audit_entries(as_role("admin"), action="user.password")
    assert entry["target"] == viewer["id"]
    assert_no_secrets(entry, viewer["password"], "a-new-password")


async def test_change_password_with_a_wrong_current_password_is_an_error(as_role, people, http):
    message = await as_role("user").mutation_error(
        "users:changePassword", {"currentPassword": "not-it-at-all", "newPassword": "whatever-1"}
    )

    assert message == "currentPassword is not your current password"
    user = people["user"]
    assert (await sign_in(http, user["email"], user["password"])).status_code == 200


@sqlite_only
@pytest.mark.parametrize(
    ("new", "problem"),
    [
        ("short", "password must be at least 8 characters"),
        ("y" * 73, "password must be at most 72 bytes"),
    ],
)
async def test_change_password_refuses_a_new_password_outside_the_policy(
    as_role, people, http, new, problem
):
    user = people["user"]

    message = await as_role("user").mutation_error(
        "users:changePassword", {"currentPassword": user["password"], "newPassword": new}
    )

    assert message.startswith(problem)
    assert (await sign_in(http, user["email"], user["password"])).status_code == 200


@sqlite_only
@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"newPassword": "long-enough"}, "currentPassword: Field required"),
        ({"currentPassword": "x"}, "newPassword: Field required"),
        ({"currentPassword": 1, "newPassword": "long-enough"}, "currentPassword: Input should be"),
        (
            {"currentPassword": "x", "newPassword": "long-enough", "userId": UNKNOWN_USER},
            "userId: unknown field",
        ),
    ],
)
async def test_change_password_refuses_bad_arguments(as_role, args, problem):
    assert problem in await as_role("reviewer").mutation_error("users:changePassword", args)


async def test_create_api_key_answers_a_working_key_once(as_role, http, people):
    admin = as_role("admin")

    created = await admin.mutation("apiKeys:create", {"name": "agent backend"})

    assert set(created) == {"apiKeyId", "key"}
    assert created["apiKeyId"].startswith("key_")
    assert created["key"].startswith("tlk_")
    thread_id = await admin.mutation(
        "threads:create", {"title": "t"}, headers=bearer(created["key"])
    )
    assert thread_id.startswith("thr_")
    (listed,) = [k for k in await admin.query("apiKeys:list") if k["_id"] == created["apiKeyId"]]
    assert listed["name"] == "agent backend"
    assert listed["prefix"] == created["key"][:12]
    assert listed["createdBy"] == f"user:{people['admin']['id']}"
    assert_no_secrets(listed, created["key"])


async def test_list_api_keys_never_shows_keys_or_their_hashes(as_role):
    admin = as_role("admin")
    keys = [(await admin.mutation("apiKeys:create", {"name": f"k{i}"}))["key"] for i in range(3)]

    listed = await admin.query("apiKeys:list")

    assert [k["name"] for k in listed] == ["k2", "k1", "k0"]
    for key in listed:
        assert set(key) <= {
            "_id",
            "_creationTime",
            "name",
            "prefix",
            "createdBy",
            "createdByName",
            "createdByEmail",
            "createdByDisabled",
            "lastUsedTime",
            "revokedTime",
        }
    assert_no_secrets(listed, *keys)
    entries = await audit_entries(admin, action="apikey.create")
    assert len(entries) == 3
    assert_no_secrets(entries, *keys)


async def test_revoking_a_key_stops_it_at_once(as_role):
    admin = as_role("admin")
    created = await admin.mutation("apiKeys:create", {"name": "soon gone"})
    backend = bearer(created["key"])
    await admin.mutation("threads:create", {"title": "before"}, headers=backend)

    assert await admin.mutation("apiKeys:revoke", {"apiKeyId": created["apiKeyId"]}) is None

    response = await admin.raw("/api/mutation", "threads:create", {"title": "after"}, backend)
    assert response.status_code == 401
    assert response.json()["code"] == "Unauthenticated"
    (listed,) = [k for k in await admin.query("apiKeys:list") if k["_id"] == created["apiKeyId"]]
    assert isinstance(listed["revokedTime"], float)
    active = await admin.query("apiKeys:list", {"includeRevoked": False})
    assert created["apiKeyId"] not in [k["_id"] for k in active]
    (entry,) = await audit_entries(admin, action="apikey.revoke")
    assert entry["target"] == created["apiKeyId"]


async def test_revoking_a_key_twice_is_an_error(as_role):
    admin = as_role("admin")
    created = await admin.mutation("apiKeys:create", {"name": "twice"})
    await admin.mutation("apiKeys:revoke", {"apiKeyId": created["apiKeyId"]})

    message = await admin.mutation_error("apiKeys:revoke", {"apiKeyId": created["apiKeyId"]})

    assert message == f"API key {created['apiKeyId']} (twice) is already revoked"


async def test_revoking_an_unknown_key_is_an_error(as_role):
    message = await as_role("admin").mutation_error("apiKeys:revoke", {"apiKeyId": UNKNOWN_KEY})

    assert message == f"API key {UNKNOWN_KEY} not found"


@sqlite_only
@pytest.mark.parametrize(
    ("path", "args", "problem"),
    [
        ("apiKeys:create", {}, "name: Field required"),
        ("apiKeys:create", {"name": "  "}, "name: String should have at least 1 character"),
        ("apiKeys:create", {"name": 7}, "name: Input should be a valid string"),
        ("apiKeys:create", {"name": "k", "key": "tlk_mine"}, "key: unknown field"),
        ("apiKeys:revoke", {"apiKeyId": "tlk_abc"}, "apiKeyId is not a valid API key id"),
        ("apiKeys:revoke", {}, "apiKeyId: Field required"),
    ],
)
async def test_api_key_functions_refuse_bad_arguments(as_role, path, args, problem):
    admin = as_role("admin")

    assert problem in await admin.mutation_error(path, args)
    assert await admin.query("apiKeys:list") == []


@sqlite_only
async def test_list_api_keys_refuses_a_bad_includeRevoked(as_role):
    message = await as_role("admin").query_error("apiKeys:list", {"includeRevoked": "no"})

    assert "includeRevoked: Input should be a valid boolean" in message


async def test_audit_log_lists_entries_newest_first_with_filters(as_role, people, http):
    admin = as_role("admin")
    await sign_in(http, "nobody@example.com", "wrong-password")
    await admin.mutation("users:setRole", {"userId": people["user"]["id"], "role": "viewer"})
    key = await admin.mutation("apiKeys:create", {"name": "k"})

    entries = await audit_entries(admin)

    assert [e["action"] for e in entries[:3]] == ["apikey.create", "user.role", "signin.failure"]
    times = [e["_creationTime"] for e in entries]
    assert times == sorted(times, reverse=True)
    (failure,) = await audit_entries(admin, action="signin.failure")
    assert failure["target"] == "nobody@example.com"
    assert [e["action"] for e in await audit_entries(admin, target=key["apiKeyId"])] == [
        "apikey.create"
    ]
    by_admin_ref = await audit_entries(admin, actor=f"user:{people['admin']['id']}")
    by_admin_email = await audit_entries(admin, actor=people["admin"]["email"])
    assert by_admin_ref == by_admin_email
    assert {e["action"] for e in by_admin_ref} >= {"apikey.create", "user.role"}
    assert_no_secrets(entries, key["key"], *(p["password"] for p in people.values()))


async def test_audit_log_filters_by_time_since_inclusive_until_exclusive(as_role, people):
    admin = as_role("admin")
    await admin.mutation("users:setRole", {"userId": people["user"]["id"], "role": "viewer"})
    await admin.mutation("users:setRole", {"userId": people["user"]["id"], "role": "user"})
    second, first = await audit_entries(admin, action="user.role")

    async def changed_to(**window) -> list[str]:
        entries = await audit_entries(admin, action="user.role", **window)
        return [e["details"]["after"] for e in entries]

    assert await changed_to(since=first["_creationTime"]) == ["user", "viewer"]
    assert await changed_to(since=second["_creationTime"]) == ["user"]
    assert await changed_to(until=second["_creationTime"]) == ["viewer"]
    assert await changed_to(until=first["_creationTime"]) == []


@sqlite_only
@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({}, "paginationOpts: Field required"),
        ({"paginationOpts": FIRST_PAGE, "since": "yesterday"}, "since: "),
        ({"paginationOpts": FIRST_PAGE, "who": "me"}, "who: unknown field"),
    ],
)
async def test_audit_log_refuses_bad_arguments(as_role, args, problem):
    assert problem in await as_role("admin").query_error("auditLog:list", args)


# -- keys belong to the installation, not to their creator (docs/security.md)


async def _second_admin(admin) -> tuple[str, str]:
    """Another admin, signed in: (their user id, their session token)."""
    from api.services import signin

    email = "second-admin@example.com"
    user_id = await admin.mutation(
        "users:create",
        {"email": email, "name": "Second Admin", "role": "admin", "password": "second-admin-1"},
    )
    return user_id, (await signin.sign_in(email, "second-admin-1")).token


async def test_a_key_outlives_its_creators_account_and_the_list_says_so(as_role):
    admin = as_role("admin")
    creator_id, creator_token = await _second_admin(admin)
    created = await admin.mutation(
        "apiKeys:create", {"name": "their backend"}, headers=bearer(creator_token)
    )

    await admin.mutation("users:setDisabled", {"userId": creator_id, "disabled": True})

    # Still works: backends must not stop because the person who set them up left.
    thread_id = await admin.mutation(
        "threads:create", {"title": "still here"}, headers=bearer(created["key"])
    )
    assert thread_id.startswith("thr_")
    (listed,) = [k for k in await admin.query("apiKeys:list") if k["_id"] == created["apiKeyId"]]
    assert (
        listed["createdBy"],
        listed["createdByName"],
        listed["createdByEmail"],
        listed["createdByDisabled"],
    ) == (f"user:{creator_id}", "Second Admin", "second-admin@example.com", True)


async def test_the_keys_list_shows_each_keys_creator_and_last_use(as_role, people):
    from api.calls import call
    from api.cli import CLI_CALLER

    admin = as_role("admin")
    by_admin = await admin.mutation("apiKeys:create", {"name": "by admin"})
    by_cli = await call("apiKeys:create", {"name": "by cli"}, CLI_CALLER)
    unused = await admin.mutation("apiKeys:create", {"name": "unused"})

    await admin.query(
        "threads:list",
        {"paginationOpts": {"numItems": 1, "cursor": None}},
        headers=bearer(by_admin["key"]),
    )
    await drain_writer()

    listed = {k["name"]: k for k in await admin.query("apiKeys:list")}
    assert listed["by admin"]["createdByEmail"] == people["admin"]["email"]
    assert listed["by admin"]["createdByDisabled"] is False
    assert listed["by cli"]["createdBy"] == "system:cli"
    assert "createdByEmail" not in listed["by cli"]
    assert listed["by admin"]["lastUsedTime"] > listed["by admin"]["_creationTime"]
    assert "lastUsedTime" not in listed["unused"]
    assert by_cli["key"] and unused["key"]


async def test_a_keys_last_use_is_written_at_most_once_a_minute(as_role, monkeypatch):
    """Last use must not cost ingest a write per call: one write per key per minute at most,
    queued to the group-commit writer without waiting for it."""
    from api import auth, credentials

    admin = as_role("admin")
    created = await admin.mutation("apiKeys:create", {"name": "busy backend"})
    touched = []
    original = auth._touch
    monkeypatch.setattr(auth, "_touch", lambda *a, **k: (touched.append(a), original(*a, **k)))

    for index in range(20):
        credentials.forget_credentials()  # every call looks the key up (no credential cache)
        await admin.mutation(
            "threads:create", {"title": f"t{index}"}, headers=bearer(created["key"])
        )
    await drain_writer()

    assert len(touched) == 1


async def drain_writer() -> None:
    """Waits until bookkeeping queued to the writer (last-use times) is committed."""
    import asyncio

    from api.db import get_engine
    from api.settings import get_settings
    from api.writer import get_writer

    await get_writer(get_engine(), get_settings().max_batch).submit(lambda conn: (None, []))
    await asyncio.sleep(0)
