"""schemathesis against a live server (granian, SQLite) with an API key: for every operation in
GET /api/openapi.json, generated requests must get no server error, answers that conform to the
description, within 10 s — and a refused call (4xx, or `status: error`) must leave the database
as it was.

Per operation: FUZZ_EXAMPLES valid requests (default 20) and FUZZ_NEGATIVE_EXAMPLES invalid ones
(default 6), about three minutes on two cores. People-only operations run with an admin's
session; half the calls carry the ids of a real thread, artifact and pending approval request.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api import migrations
from api.openapi import build_spec
from tests.server_process import ROOT, ServerProcess

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
NEGATIVE = int(os.environ.get("FUZZ_NEGATIVE_EXAMPLES", "6"))
MAX_SECONDS = 10.0
# Columns a refused call may still touch: when a credential was last used.
TOUCHED = {"api_keys": {"last_used_time"}, "auth_sessions": {"last_seen_time"}}

pytestmark = pytest.mark.fuzz


class LiveServer:
    def __init__(self, path, server: ServerProcess, key: str) -> None:
        self.path, self.server, self.key = path, server, key
        self.url = server.url
        self.admin = ""
        self.ids: dict[str, str] = {}


def _snapshot(path) -> dict[str, list]:
    """Every table's rows, less the columns a refused call may touch, and less failed sign-ins
    (which a refused sign-in records, for throttling, by design)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_fts%' AND name != "
                "'alembic_version'"
            )
        ]
        snapshot = {}
        for table in tables:
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]
            kept = [c for c in columns if c not in TOUCHED.get(table, set())]
            select = ", ".join(f'"{c}"' for c in kept)
            where = " WHERE action != 'signin.failure'" if table == "audit_log" else ""
            rows = conn.execute(f'SELECT {select} FROM "{table}"{where}').fetchall()
            snapshot[table] = sorted(rows, key=repr)
        return snapshot
    finally:
        conn.close()


def _cli(url: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT), "BCRYPT_ROUNDS": "4"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _value(response: httpx.Response):
    body = response.json()
    assert body["status"] == "success", body
    return body["value"]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """A server with an API key, an admin's session (for the people-only functions) and one
    thread with an artifact and a pending approval request, whose ids half of the generated
    calls use, so that calls reach past "not found"."""
    path = tmp_path_factory.mktemp("fuzz") / "threadline.db"
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    key = _cli(url, "create-api-key", "--name", "fuzz")
    password = "fuzz-admin-password"
    _cli(
        url,
        "create-user",
        "--email",
        "fuzz@example.com",
        "--name",
        "Fuzz",
        "--role",
        "admin",
        "--password",
        password,
    )
    server = ServerProcess(url).start()
    try:
        live = LiveServer(path, server, key)
        signin = {"email": "fuzz@example.com", "password": password}
        live.admin = httpx.post(f"{live.url}/api/auth/signin", json=signin).json()["token"]

        def mutation(path_, args):
            headers = {"Authorization": f"Bearer {key}"}
            body = {"path": path_, "args": args}
            return _value(httpx.post(f"{live.url}/api/mutation", json=body, headers=headers))

        thread = mutation("threads:create", {"title": "fuzz"})
        artifact = mutation(
            "artifacts:create", {"threadId": thread, "type": "plan", "content": "x"}
        )
        request = mutation(
            "approvalRequests:create",
            {"threadId": thread, "planContent": "x", "artifactId": artifact},
        )
        live.ids = {"threadId": thread, "artifactId": artifact, "approvalRequestId": request}
        yield live
    finally:
        server.stop()


SCHEMA = schemathesis.openapi.from_dict(build_spec())
OPERATIONS = {
    operation.label: operation
    for operation in (result.ok() for result in SCHEMA.get_all_operations())
}
COUNTS = {"operations": 0, "examples": 0, "refused": 0}


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_generated_calls(label, live_server):
    operation = OPERATIONS[label]
    COUNTS["operations"] += 1
    for mode, examples in (
        (GenerationMode.POSITIVE, EXAMPLES),
        (GenerationMode.NEGATIVE, NEGATIVE),
    ):

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(mode), real_ids=st.booleans())
        def call(case, real_ids):
            COUNTS["examples"] += 1
            if real_ids:
                _use_real_ids(case, live_server.ids)
            check_call(case, live_server)

        try:
            call()
        except Unsatisfiable:
            # Nothing in this operation can be made invalid (GET /version, say).
            assert mode is GenerationMode.NEGATIVE


def _use_real_ids(case, ids: dict[str, str]) -> None:
    body = case.body if isinstance(case.body, dict) else {}
    args = body.get("args")
    if isinstance(args, dict):
        for name, value in ids.items():
            if name in args:
                args[name] = value


def _credential(case, live_server) -> str:
    """The API key, or the admin's session for operations API keys may not call."""
    security = case.operation.definition.raw.get("security") or []
    # (An operation open to anyone gets the key: never the admin's session, which
    # auth:signOut would end.)
    if security and {} not in security and not any("apiKey" in o for o in security):
        return live_server.admin
    return live_server.key


def check_call(case, live_server) -> None:
    before = _snapshot(live_server.path)
    response = case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {_credential(case, live_server)}"},
        checks=[not_a_server_error, response_schema_conformance],
        timeout=30,
    )
    assert response.elapsed < MAX_SECONDS, f"{case.path} took {response.elapsed:.1f} s"
    body = _json(response)
    refused = response.status_code != 200 or (
        isinstance(body, dict) and body.get("status") == "error"
    )
    if refused:
        COUNTS["refused"] += 1
        after = _snapshot(live_server.path)
        changed = {table for table in after if after[table] != before.get(table)}
        assert not changed, (
            f"{case.method} {case.path} was refused ({response.status_code}: "
            f"{str(body)[:200]}) but changed {sorted(changed)}"
        )


def test_totals_are_reported(live_server):
    """Runs last in this file: prints what the run covered (pytest -s shows it)."""
    print(
        f"schemathesis: {COUNTS['operations']} operations, {COUNTS['examples']} examples, "
        f"{COUNTS['refused']} refused calls checked for writes"
    )
    if COUNTS["operations"]:
        assert COUNTS["examples"] >= COUNTS["operations"]


def test_the_write_check_sees_a_new_row_but_not_a_failed_sign_in(live_server):
    """The check above is only as good as its snapshot: a row written by a refused call must
    show, a failed sign-in (recorded for throttling) and a key's last use must not."""
    before = _snapshot(live_server.path)
    conn = sqlite3.connect(live_server.path)
    try:
        with conn:
            conn.execute("UPDATE api_keys SET last_used_time = 1")
            conn.execute(
                "INSERT INTO audit_log (id, creation_time, actor, action) "
                "VALUES ('aud_fuzzcheck1', 1, 'anonymous', 'signin.failure')"
            )
        assert _snapshot(live_server.path) == before
        with conn:
            conn.execute(
                "INSERT INTO threads (id, creation_time, title, status, updated_time) "
                "VALUES ('thr_fuzzcheck1', 1, 'x', 'active', 1)"
            )
        after = _snapshot(live_server.path)
        assert after["threads"] != before["threads"]
        with conn:
            conn.execute("DELETE FROM threads WHERE id = 'thr_fuzzcheck1'")
    finally:
        conn.close()


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None
