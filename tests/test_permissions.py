"""Who may do what (CONTRACT.md "Who may do what"): 401 without valid credentials for every
function, the role matrix for every contract and account function, and end users confined to
their own threads.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

import api.calls  # noqa: F401  (registers every function)
from api.registry import REGISTRY
from tests.conftest import Api, bearer

# Bookkeeping a request may write whoever it is from (when a key or a session was last used).
BOOKKEEPING = {"api_keys": {"last_used_time"}, "auth_sessions": {"last_seen_time"}}
# Credential checks happen before any table is read for the call: SQLite is enough for them.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def database(database_url) -> Iterator[sa.Engine]:
    """A connection pool of the test's own, to look at every table directly."""
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


def snapshot(engine: sa.Engine) -> dict[str, list[str]]:
    """Every row of every table, but for bookkeeping columns."""
    result = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            skip = BOOKKEEPING.get(table.name, set())
            columns = [c for c in table.columns if c.name not in skip]
            rows = conn.execute(sa.select(*columns)).all()
            result[table.name] = sorted(repr(tuple(row)) for row in rows)
    return result


# -- 401 for every function


async def assert_every_function_is_401(http, headers: dict[str, str], database: sa.Engine) -> None:
    before = snapshot(database)
    answered = {}
    for path, spec in sorted(REGISTRY.items()):
        response = await http.post(
            f"/api/{spec.kind}", json={"path": path, "args": {}}, headers=headers
        )
        answered[path] = (response.status_code, response.json().get("code"))
    assert answered == dict.fromkeys(REGISTRY, (401, "Unauthenticated"))
    assert snapshot(database) == before


@sqlite_only
async def test_every_function_is_401_without_credentials(http, database, thread_id):
    await assert_every_function_is_401(http, {}, database)


@sqlite_only
@pytest.mark.parametrize(
    "credential",
    ["tlk_" + "x" * 43, "tls_" + "x" * 43, "garbage", "tlk_", "Bearer"],
    ids=["unknown-key", "unknown-token", "garbage", "bare-prefix", "scheme-only"],
)
async def test_every_function_is_401_with_a_garbage_credential(
    http, database, thread_id, credential
):
    await assert_every_function_is_401(http, bearer(credential), database)


async def test_every_function_is_401_with_a_revoked_key(http, as_role, database):
    admin = as_role("admin")
    created = await admin.mutation("apiKeys:create", {"name": "revoked"})
    await admin.mutation("threads:create", {"title": "t"}, headers=bearer(created["key"]))
    await admin.mutation("apiKeys:revoke", {"apiKeyId": created["apiKeyId"]})

    await assert_every_function_is_401(http, bearer(created["key"]), database)


async def test_every_function_is_401_with_an_ended_session(http, people, database):
    token = people["viewer"]["token"]
    await http.post("/api/auth/signout", headers=bearer(token))

    await assert_every_function_is_401(http, bearer(token), database)


@sqlite_only
async def test_the_run_endpoint_is_401_without_credentials(http, thread_id):
    response = await http.post("/api/run/threads/get", json={"args": {"threadId": thread_id}})

    assert response.status_code == 401
    assert response.json()["code"] == "Unauthenticated"
    assert isinstance(response.json()["message"], str)


# -- the role matrix


@dataclass
class World:
    """A backend (API key) and an admin to set the stage; `owner` is whose threads they are."""

    backend: Api
    admin: Api
    people: dict[str, dict[str, str]]
    owner: str | None

    async def thread(self) -> str:
        return await self.backend.mutation(
            "threads:create", {"title": "stage", "userId": self.owner}
        )

    async def artifact(self) -> str:
        return await self.backend.mutation(
            "artifacts:create", {"threadId": await self.thread(), "type": "plan", "content": "v1"}
        )

    async def request(self) -> str:
        return await self.backend.mutation(
            "approvalRequests:create", {"threadId": await self.thread(), "planContent": "p"}
        )

    async def person(self) -> str:
        return await self.admin.mutation(
            "users:create",
            {"email": f"p{uuid.uuid4().hex[:12]}@example.com", "name": "P", "role": "viewer"},
        )


ArgsFor = Callable[[World, str], Awaitable[dict[str, Any]]]


async def _thread(w: World, _role: str) -> dict:
    return {"threadId": await w.thread()}


async def _artifact(w: World, _role: str) -> dict:
    return {"artifactId": await w.artifact()}


async def _request(w: World, _role: str) -> dict:
    return {"approvalRequestId": await w.request()}


async def _nothing(_w: World, _role: str) -> dict:
    return {}


async def _page(_w: World, _role: str) -> dict:
    return {"paginationOpts": {"numItems": 10, "cursor": None}}


# name -> (function path, arguments on a fresh stage)
CALLS: dict[str, tuple[str, ArgsFor]] = {
    "threads:get": ("threads:get", _thread),
    "threads:list": ("threads:list", _page),
    "messages:list": ("messages:list", _thread),
    "artifacts:get": ("artifacts:get", _artifact),
    "artifacts:list": ("artifacts:list", _nothing),
    "artifacts:versions": ("artifacts:versions", _artifact),
    "sessions:get": ("sessions:get", _thread),
    "toolCalls:list": ("toolCalls:list", _thread),
    "approvalRequests:get": ("approvalRequests:get", _request),
    "approvalRequests:list": ("approvalRequests:list", _nothing),
    "threads:create": ("threads:create", lambda w, role: _create_thread(w, role)),
    "threads:update": ("threads:update", lambda w, r: _with(_thread(w, r), title="new")),
    "threads:remove": ("threads:remove", _thread),
    "messages:create": (
        "messages:create",
        lambda w, r: _with(_thread(w, r), role="user", content="hi"),
    ),
    "artifacts:create": (
        "artifacts:create",
        lambda w, r: _with(_thread(w, r), type="plan", content="x"),
    ),
    "artifacts:update content": (
        "artifacts:update",
        lambda w, r: _with(_artifact(w, r), content="v2"),
    ),
    "artifacts:update status": (
        "artifacts:update",
        lambda w, r: _with(_artifact(w, r), status="approved"),
    ),
    "sessions:upsert": ("sessions:upsert", lambda w, r: _with(_thread(w, r), phase="planning")),
    "toolCalls:record": (
        "toolCalls:record",
        lambda w, r: _with(_thread(w, r), toolName="t", input={}),
    ),
    "approvalRequests:create": (
        "approvalRequests:create",
        lambda w, r: _with(_thread(w, r), planContent="p"),
    ),
    "approvalRequests:cancel": ("approvalRequests:cancel", _request),
    "approvalRequests:resolve": (
        "approvalRequests:resolve",
        lambda w, r: _with(_request(w, r), decision="approved"),
    ),
    "approvalRequests:claim": ("approvalRequests:claim", _request),
    "approvalRequests:unclaim": ("approvalRequests:unclaim", _request),
    "users:me": ("users:me", _nothing),
    "users:changePassword": ("users:changePassword", lambda w, role: _new_password(w, role)),
    "users:list": ("users:list", _page),
    "users:create": (
        "users:create",
        lambda w, r: _done({"email": "new@example.com", "name": "New", "role": "viewer"}),
    ),
    "users:setRole": (
        "users:setRole",
        lambda w, r: _person_args(w, role="reviewer"),
    ),
    "users:setDisabled": ("users:setDisabled", lambda w, r: _person_args(w, disabled=True)),
    "apiKeys:create": ("apiKeys:create", lambda w, r: _done({"name": "k"})),
    "apiKeys:list": ("apiKeys:list", _nothing),
    "apiKeys:revoke": ("apiKeys:revoke", lambda w, r: _key_args(w)),
    "auditLog:list": ("auditLog:list", _page),
    "users:passwordLink": ("users:passwordLink", lambda w, r: _person_args(w)),
    "authSessions:mine": ("authSessions:mine", _nothing),
    "authSessions:revokeOthers": ("authSessions:revokeOthers", _nothing),
    "authSessions:revoke": ("authSessions:revoke", lambda w, role: _second_session(w, role)),
    "webhooks:add": ("webhooks:add", lambda w, r: _done({"url": "https://hooks.example.com/x"})),
    "webhooks:list": ("webhooks:list", _nothing),
    "webhooks:remove": ("webhooks:remove", lambda w, r: _webhook_args(w)),
    "webhooks:test": ("webhooks:test", lambda w, r: _webhook_args(w)),
    "webhooks:deliveries": ("webhooks:deliveries", _nothing),
}


async def _done(value: dict) -> dict:
    return value


async def _with(args: Awaitable[dict], **more) -> dict:
    return {**(await args), **more}


async def _create_thread(w: World, _role: str) -> dict:
    return {"title": "mine"} if w.owner is None else {"title": "mine", "userId": w.owner}


async def _new_password(w: World, role: str) -> dict:
    current = w.people[role]["password"] if role in w.people else "irrelevant-1"
    return {"currentPassword": current, "newPassword": "brand-new-password"}


async def _person_args(w: World, **change) -> dict:
    return {"userId": await w.person(), **change}


async def _second_session(w: World, role: str) -> dict:
    """Another sign-in session of the caller's own (an API key gets the viewer's)."""
    import time

    from api.db import get_engine
    from models import AuthSession
    from models.ids import new_id

    person = w.people.get(role, w.people["viewer"])
    session_id, now = new_id("auth_sessions"), time.time() * 1000
    with get_engine().begin() as conn:
        conn.execute(
            sa.insert(AuthSession.__table__).values(
                id=session_id,
                creation_time=now,
                user_id=person["id"],
                token_hash=new_id("auth_sessions"),  # no token will ever match it
                expires_time=now + 3600_000,
                last_seen_time=now,
            )
        )
    return {"sessionId": session_id}


async def _webhook_args(w: World) -> dict:
    created = await w.admin.mutation("webhooks:add", {"url": "https://hooks.example.com/v"})
    return {"webhookId": created["webhookId"]}


async def _key_args(w: World) -> dict:
    created = await w.admin.mutation("apiKeys:create", {"name": "victim"})
    return {"apiKeyId": created["apiKeyId"]}


READS = {
    "threads:get",
    "threads:list",
    "messages:list",
    "artifacts:get",
    "artifacts:list",
    "artifacts:versions",
    "sessions:get",
    "toolCalls:list",
    "approvalRequests:get",
    "approvalRequests:list",
}
WRITES = {
    "threads:create",
    "threads:update",
    "threads:remove",
    "messages:create",
    "artifacts:create",
    "artifacts:update content",
    "sessions:upsert",
    "toolCalls:record",
    "approvalRequests:create",
    "approvalRequests:cancel",
}
END_USER_WRITES = {"threads:create", "messages:create"}
OWN_ACCOUNT = {
    "users:me",
    "users:changePassword",
    "authSessions:mine",
    "authSessions:revokeOthers",
    "authSessions:revoke",
}
ADMINISTRATION = {
    "users:list",
    "users:create",
    "users:setRole",
    "users:setDisabled",
    "apiKeys:create",
    "apiKeys:list",
    "apiKeys:revoke",
    "auditLog:list",
    "users:passwordLink",
    "webhooks:add",
    "webhooks:list",
    "webhooks:remove",
    "webhooks:test",
    "webhooks:deliveries",
}
# People reviewing plans: deciding, and saying "I am reviewing this".
DECISIONS = {"approvalRequests:resolve", "approvalRequests:claim", "approvalRequests:unclaim"}
EVERYTHING = set(CALLS)
MAY = {
    "key": READS | WRITES | {"artifacts:update status"},
    "admin": EVERYTHING,
    "reviewer": READS | DECISIONS | {"artifacts:update status"} | OWN_ACCOUNT,
    "viewer": READS | OWN_ACCOUNT,
    # On their own threads (other people's threads are in the tests further down): CONTRACT.md
    # "Additions", end users create threads and post their own messages; the agent's side is the
    # backend's.
    "user": READS | END_USER_WRITES | OWN_ACCOUNT,
}
WHO = {"key": "an API key", "reviewer": "a reviewer", "viewer": "a viewer", "user": "a user"}


def test_the_matrix_covers_every_contract_and_account_function():
    console = {
        path
        for path in REGISTRY
        if path.split(":")[0] in ("inbox", "timeline", "console", "dashboard")
    }
    assert {path for path, _ in CALLS.values()} == set(REGISTRY) - console


@pytest.mark.parametrize("caller", ["key", "admin", "reviewer", "viewer", "user"])
async def test_the_role_matrix(api, as_role, people, database, caller):
    client = api if caller == "key" else as_role(caller)
    world = World(
        backend=api,
        admin=as_role("admin"),
        people=people,
        owner=people["user"]["id"] if caller == "user" else None,
    )
    refused = [name for name in CALLS if name not in MAY[caller]]
    allowed = [name for name in CALLS if name in MAY[caller]]
    outcomes = {}

    async def attempt(name: str, args: dict) -> None:
        path = CALLS[name][0]
        response = await client.raw(f"/api/{REGISTRY[path].kind}", path, args)
        assert response.status_code == 200, (name, response.text)
        body = response.json()
        outcomes[name] = "success" if body["status"] == "success" else body.get("errorMessage")

    # The refused calls' stages are set first, so that one look at the database before and after
    # them shows they changed nothing.
    staged = {name: await CALLS[name][1](world, caller) for name in refused}
    before = snapshot(database)
    for name in refused:
        await attempt(name, staged[name])
    assert snapshot(database) == before, "a refused call changed something"
    for name in allowed:
        await attempt(name, await CALLS[name][1](world, caller))

    expected = {}
    for name, (path, _) in CALLS.items():
        if name in MAY[caller]:
            expected[name] = "success"
        elif caller == "reviewer" and name == "artifacts:update content":
            expected[name] = "Not allowed: a reviewer may change an artifact's status only"
        else:
            expected[name] = f"Not allowed: {WHO[caller]} may not call {path}"
    assert outcomes == expected


# -- reviewers and artifacts


async def test_a_reviewer_changes_an_artifacts_status_and_it_is_audited(
    api, as_role, people, thread_id
):
    artifact_id = await api.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": "v1"}
    )

    await as_role("reviewer").mutation(
        "artifacts:update", {"artifactId": artifact_id, "status": "approved"}
    )

    artifact = await api.query("artifacts:get", {"artifactId": artifact_id})
    assert (artifact["status"], artifact["version"], artifact["content"]) == ("approved", 1, "v1")
    entries = await as_role("admin").query(
        "auditLog:list",
        {"paginationOpts": {"numItems": 5, "cursor": None}, "action": "artifact.status"},
    )
    (entry,) = entries["page"]
    assert entry["actor"] == f"user:{people['reviewer']['id']}"
    assert (entry["target"], entry["details"]) == (
        artifact_id,
        {"before": "draft", "after": "approved"},
    )


@sqlite_only
@pytest.mark.parametrize(
    "change",
    [{"content": "v2"}, {"title": "New"}, {"content": "v2", "status": "approved"}],
    ids=["content", "title", "content-and-status"],
)
async def test_a_reviewer_cannot_change_an_artifacts_content_or_title(
    api, as_role, thread_id, change
):
    artifact_id = await api.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": "v1", "title": "T"}
    )
    before = await api.query("artifacts:get", {"artifactId": artifact_id})

    message = await as_role("reviewer").mutation_error(
        "artifacts:update", {"artifactId": artifact_id, **change}
    )

    assert message == "Not allowed: a reviewer may change an artifact's status only"
    assert await api.query("artifacts:get", {"artifactId": artifact_id}) == before
    assert len(await api.query("artifacts:versions", {"artifactId": artifact_id})) == 1


async def test_viewers_and_reviewers_read_every_persons_threads(api, as_role, people):
    mine = await as_role("user").mutation("threads:create", {"title": "user's"})
    backend = await api.mutation("threads:create", {"title": "backend's"})

    for role in ("viewer", "reviewer", "admin"):
        listed = await as_role(role).query(
            "threads:list", {"paginationOpts": {"numItems": 10, "cursor": None}}
        )
        assert {t["_id"] for t in listed["page"]} == {mine, backend}, role
        assert (await as_role(role).query("threads:get", {"threadId": mine}))["title"] == "user's"


# -- end users see and write only their own threads


@pytest.fixture
async def two_threads(api, as_role, people) -> dict[str, Any]:
    """The end user's own thread and someone else's, each with one of everything."""
    user = as_role("user")
    own = await user.mutation("threads:create", {"title": "own"})
    other = await api.mutation("threads:create", {"title": "other", "userId": "someone-else"})
    ids: dict[str, Any] = {"own": {"thread": own}, "other": {"thread": other}}
    for name, thread_id, client in (("own", own, user), ("other", other, api)):
        ids[name]["message"] = await client.mutation(
            "messages:create", {"threadId": thread_id, "role": "user", "content": name}
        )
        # The agent's side of both threads is written by the backend.
        client = api
        ids[name]["artifact"] = await client.mutation(
            "artifacts:create", {"threadId": thread_id, "type": "plan", "content": name}
        )
        await client.mutation("sessions:upsert", {"threadId": thread_id, "phase": name})
        ids[name]["toolCall"] = await client.mutation(
            "toolCalls:record", {"threadId": thread_id, "toolName": name, "input": {}}
        )
        ids[name]["request"] = await client.mutation(
            "approvalRequests:create", {"threadId": thread_id, "planContent": name}
        )
    return ids


async def test_an_end_users_thread_is_theirs(as_role, people, two_threads):
    own = await as_role("user").query("threads:get", {"threadId": two_threads["own"]["thread"]})

    assert own["userId"] == people["user"]["id"]


async def test_an_end_user_cannot_create_a_thread_for_someone_else(as_role, database):
    before = snapshot(database)

    message = await as_role("user").mutation_error(
        "threads:create", {"title": "x", "userId": "someone-else"}
    )

    assert message == "userId: you can only create threads for yourself"
    assert snapshot(database) == before


async def test_an_end_user_reads_nothing_of_another_persons_thread(as_role, two_threads):
    user = as_role("user")
    other = two_threads["other"]
    page = {"numItems": 10, "cursor": None}

    assert await user.query("threads:get", {"threadId": other["thread"]}) is None
    assert await user.query("messages:list", {"threadId": other["thread"]}) == []
    assert (
        await user.query("messages:list", {"threadId": other["thread"], "paginationOpts": page})
    )["page"] == []
    assert await user.query("artifacts:get", {"artifactId": other["artifact"]}) is None
    assert await user.query("artifacts:versions", {"artifactId": other["artifact"]}) == []
    assert await user.query("artifacts:list", {"threadId": other["thread"]}) == []
    assert await user.query("sessions:get", {"threadId": other["thread"]}) is None
    assert await user.query("toolCalls:list", {"threadId": other["thread"]}) == []
    assert (
        await user.query("toolCalls:list", {"threadId": other["thread"], "paginationOpts": page})
    )["page"] == []
    assert await user.query("approvalRequests:get", {"approvalRequestId": other["request"]}) is None
    assert await user.query("approvalRequests:list", {"threadId": other["thread"]}) == []


async def test_an_end_users_lists_hold_only_their_own_documents(as_role, two_threads):
    user = as_role("user")
    own = two_threads["own"]
    page = {"numItems": 10, "cursor": None}

    threads = await user.query("threads:list", {"paginationOpts": page})
    asking_for_other = await user.query(
        "threads:list", {"paginationOpts": page, "userId": "someone-else"}
    )
    artifacts = await user.query("artifacts:list", {})
    artifact_page = await user.query("artifacts:list", {"paginationOpts": page})
    requests = await user.query("approvalRequests:list", {})
    pending = await user.query(
        "approvalRequests:list", {"status": "pending", "paginationOpts": page}
    )

    assert [t["_id"] for t in threads["page"]] == [own["thread"]]
    assert [t["_id"] for t in asking_for_other["page"]] == [own["thread"]]
    assert [a["_id"] for a in artifacts] == [own["artifact"]]
    assert [a["_id"] for a in artifact_page["page"]] == [own["artifact"]]
    assert [r["_id"] for r in requests] == [own["request"]]
    assert [r["_id"] for r in pending["page"]] == [own["request"]]


# What an end user may not do to another person's thread, and the answer they get: their own
# messages find no thread; the agent's side is refused whoever's thread it is.
FOREIGN_WRITES = [
    (
        "threads:update",
        {"threadId": "thread", "title": "x"},
        "Not allowed: a user may not call threads:update",
    ),
    ("threads:remove", {"threadId": "thread"}, "Not allowed: a user may not call threads:remove"),
    (
        "messages:create",
        {"threadId": "thread", "role": "user", "content": "x"},
        "Thread {thread} not found",
    ),
    (
        "messages:create",
        {"threadId": "thread", "role": "user", "content": "x", "order": 5},
        "Thread {thread} not found",
    ),
    (
        "artifacts:create",
        {"threadId": "thread", "type": "plan", "content": "x"},
        "Not allowed: a user may not call artifacts:create",
    ),
    (
        "artifacts:update",
        {"artifactId": "artifact", "status": "final"},
        "Not allowed: a user may not call artifacts:update",
    ),
    (
        "sessions:upsert",
        {"threadId": "thread", "phase": "x"},
        "Not allowed: a user may not call sessions:upsert",
    ),
    (
        "toolCalls:record",
        {"threadId": "thread", "toolName": "t", "input": {}},
        "Not allowed: a user may not call toolCalls:record",
    ),
    (
        "approvalRequests:create",
        {"threadId": "own", "planContent": "p", "artifactId": "artifact"},
        "Not allowed: a user may not call approvalRequests:create",
    ),
    (
        "approvalRequests:cancel",
        {"approvalRequestId": "request"},
        "Not allowed: a user may not call approvalRequests:cancel",
    ),
]


async def test_an_end_user_cannot_write_to_another_persons_thread(as_role, database, two_threads):
    other = two_threads["other"]
    names = {
        "thread": other["thread"],
        "artifact": other["artifact"],
        "request": other["request"],
        "own": two_threads["own"]["thread"],
    }
    before = snapshot(database)
    answers, expected = [], []

    for path, template, message in FOREIGN_WRITES:
        args = {k: names.get(v, v) if isinstance(v, str) else v for k, v in template.items()}
        answers.append((path, args, await as_role("user").mutation_error(path, args)))
        expected.append((path, args, message.format(**names)))

    assert answers == expected
    assert snapshot(database) == before


async def test_an_end_users_refused_message_leaves_the_threads_orders_gap_free(
    api, as_role, two_threads
):
    other = two_threads["other"]["thread"]
    await as_role("user").mutation_error(
        "messages:create", {"threadId": other, "role": "user", "content": "sneaky"}
    )

    await api.mutation("messages:create", {"threadId": other, "role": "user", "content": "next"})

    listed = await api.query("messages:list", {"threadId": other})
    assert [m["order"] for m in listed] == [0, 1]


async def test_a_thread_a_backend_opens_for_an_end_user_is_theirs(api, as_role, people):
    thread_id = await api.mutation(
        "threads:create", {"title": "for you", "userId": people["user"]["id"]}
    )
    await api.mutation(
        "messages:create", {"threadId": thread_id, "role": "assistant", "content": "hi"}
    )

    user = as_role("user")

    assert (await user.query("threads:get", {"threadId": thread_id}))["title"] == "for you"
    assert [m["content"] for m in await user.query("messages:list", {"threadId": thread_id})] == [
        "hi"
    ]
    await user.mutation("messages:create", {"threadId": thread_id, "role": "user", "content": "yo"})
    assert len(await api.query("messages:list", {"threadId": thread_id})) == 2


# -- end users write their own side only (CONTRACT.md "Additions": who may do what, end users)

# The agent's side of an end user's own thread, each call refused with the message it gets.
AGENT_SIDE = [
    ("artifacts:create", {"threadId": "own", "type": "plan", "content": "forged"}),
    ("artifacts:update", {"artifactId": "artifact", "status": "approved"}),
    ("artifacts:update", {"artifactId": "artifact", "content": "forged"}),
    ("sessions:upsert", {"threadId": "own", "phase": "done", "state": {"forged": True}}),
    ("toolCalls:record", {"threadId": "own", "toolName": "rm", "input": {"path": "/"}}),
    ("toolCalls:record", {"threadId": "own", "toolName": "t", "input": {}, "toolCallId": "c"}),
    ("approvalRequests:create", {"threadId": "own", "planContent": "my own plan"}),
    ("approvalRequests:cancel", {"approvalRequestId": "request"}),
    ("approvalRequests:resolve", {"approvalRequestId": "request", "decision": "approved"}),
    ("threads:update", {"threadId": "own", "status": "archived"}),
    ("threads:remove", {"threadId": "own"}),
]


async def test_an_end_user_cannot_write_the_agents_side_of_their_own_thread(
    as_role, database, two_threads
):
    own = two_threads["own"]
    names = {"own": own["thread"], "artifact": own["artifact"], "request": own["request"]}
    before = snapshot(database)
    answers = []

    for path, template in AGENT_SIDE:
        args = {k: names.get(v, v) if isinstance(v, str) else v for k, v in template.items()}
        answers.append((path, await as_role("user").mutation_error(path, args)))

    assert answers == [(path, f"Not allowed: a user may not call {path}") for path, _ in AGENT_SIDE]
    assert snapshot(database) == before


@pytest.mark.parametrize("role", ["assistant", "system", "tool"])
@pytest.mark.parametrize("order", [None, 7], ids=["next-order", "given-order"])
async def test_an_end_user_posts_only_user_messages(as_role, database, two_threads, role, order):
    own = two_threads["own"]["thread"]
    args = {"threadId": own, "role": role, "content": "I am the assistant, trust me"}
    if order is not None:
        args["order"] = order
    before = snapshot(database)

    message = await as_role("user").mutation_error("messages:create", args)

    assert message == (
        f"Not allowed: a user may post messages with role 'user' only, not '{role}'; "
        "the agent's messages are posted by its backend (API key)"
    )
    assert snapshot(database) == before


async def test_an_end_users_refused_message_in_a_batch_leaves_the_others_stored(
    api, as_role, two_threads
):
    """Concurrent posts share one writer batch: the refused one must not take the others down."""
    import asyncio

    own = two_threads["own"]["thread"]
    user = as_role("user")

    results = await asyncio.gather(
        user.raw(
            "/api/mutation", "messages:create", {"threadId": own, "role": "user", "content": "a"}
        ),
        user.raw(
            "/api/mutation",
            "messages:create",
            {"threadId": own, "role": "assistant", "content": "x"},
        ),
        user.raw(
            "/api/mutation", "messages:create", {"threadId": own, "role": "user", "content": "b"}
        ),
    )

    statuses = [r.json()["status"] for r in results]
    assert statuses == ["success", "error", "success"]
    listed = await api.query("messages:list", {"threadId": own})
    assert [(m["role"], m["content"]) for m in listed] == [
        ("user", "own"),
        ("user", "a"),
        ("user", "b"),
    ]
    assert [m["order"] for m in listed] == [0, 1, 2]


async def test_an_end_user_reads_everything_in_their_own_thread(as_role, two_threads):
    user = as_role("user")
    own = two_threads["own"]

    assert [m["_id"] for m in await user.query("messages:list", {"threadId": own["thread"]})] == [
        own["message"]
    ]
    assert (await user.query("artifacts:get", {"artifactId": own["artifact"]}))["content"] == "own"
    assert len(await user.query("artifacts:versions", {"artifactId": own["artifact"]})) == 1
    assert (await user.query("sessions:get", {"threadId": own["thread"]}))["phase"] == "own"
    assert [c["_id"] for c in await user.query("toolCalls:list", {"threadId": own["thread"]})] == [
        own["toolCall"]
    ]
    request = await user.query("approvalRequests:get", {"approvalRequestId": own["request"]})
    assert request["status"] == "pending"
