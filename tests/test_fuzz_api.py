"""schemathesis against a live server (granian, SQLite) with an API key: for every operation in
GET /api/openapi.json, generated requests must get no server error, answers that conform to the
description, within 10 s — and a refused call (4xx, or `status: error`) must leave the database
as it was.

FUZZ_EXAMPLES sets the examples per operation (default 25: about two minutes on two cores).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api import migrations
from api.openapi import build_spec
from tests.server_process import ROOT, ServerProcess

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
MAX_SECONDS = 10.0
# Columns a refused call may still touch: when a credential was last used.
TOUCHED = {"api_keys": {"last_used_time"}, "auth_sessions": {"last_seen_time"}}

pytestmark = pytest.mark.fuzz


class LiveServer:
    def __init__(self, path, server: ServerProcess, key: str) -> None:
        self.path, self.server, self.key = path, server, key
        self.url = server.url
        self.refused = 0


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


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "threadline.db"
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    created = subprocess.run(
        [sys.executable, "-m", "api.cli", "create-api-key", "--name", "fuzz"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    server = ServerProcess(url).start()
    try:
        yield LiveServer(path, server, key)
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

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def call(case):
        COUNTS["examples"] += 1
        check_call(case, live_server)

    call()


def check_call(case, live_server) -> None:
    before = _snapshot(live_server.path)
    response = case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {live_server.key}"},
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
