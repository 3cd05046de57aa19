"""Every answer is readable by the official Convex clients (CONTRACT.md "Additions", "Function
results and JSON"): object keys that `jsonToConvex` rejects are refused at write time with the
field's path, and migration 0006 rewrites those stored before. The official ConvexHttpClient
(npm convex 1.48.0, under Node) reads a live server's answers from pytest."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from api import db, migrations, writer
from api.calls import call
from api.cli import CLI_CALLER
from models.ids import new_id
from tests.conftest import _use_database
from tests.convex_support import CONVEX_JS, ensure_node_client
from tests.server_process import ServerProcess
from tests.test_permissions import snapshot

# Keys jsonToConvex (convex/src/values/value.ts) throws on, each with why.
UNREADABLE_KEYS = {
    "$schema": "keys starting with '$' are reserved by Convex",
    "$ref": "keys starting with '$' are reserved by Convex",
    "naïve": "keys must be printable ASCII, without control characters",
    "日本": "keys must be printable ASCII, without control characters",
    "tab\there": "keys must be printable ASCII, without control characters",
    "del\x7f": "keys must be printable ASCII, without control characters",
    "": "keys must not be empty",
    "k" * 1025: "keys must be at most 1024 characters long",
}
# Keys it reads: the edges of the rule.
READABLE_KEYS = [" ", "~", "a$b", "_$ref", "k" * 1024, "with space", 'quote"back\\slash']


def _message(where: str, key: str) -> str:
    shown = json.dumps(key if len(key) <= 60 else key[:60] + "...", ensure_ascii=False)
    return (
        f"{where} has the key {shown}, which Convex clients cannot read "
        f"({UNREADABLE_KEYS[key]}); rename it, or send the value as a JSON string "
        "(e.g. JSON.stringify / json.dumps)"
    )


@pytest.fixture
def database(database_url):
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


# (function, arguments holding `value` at the place named by the path)
WRITES = [
    ("threads:create", lambda t, v: {"metadata": {"app": v}}, "args.metadata.app"),
    ("threads:update", lambda t, v: {"threadId": t, "metadata": v}, "args.metadata"),
    (
        "messages:create",
        lambda t, v: {"threadId": t, "role": "user", "content": "c", "metadata": v},
        "args.metadata",
    ),
    ("sessions:upsert", lambda t, v: {"threadId": t, "state": {"s": [1, v]}}, "args.state.s[1]"),
    (
        "toolCalls:record",
        lambda t, v: {"threadId": t, "toolName": "x", "input": {"properties": v}},
        "args.input.properties",
    ),
    (
        "toolCalls:record",
        lambda t, v: {"threadId": t, "toolName": "x", "input": {}, "output": [[v]]},
        "args.output[0][0]",
    ),
]


@pytest.mark.parametrize("key", list(UNREADABLE_KEYS), ids=lambda k: repr(k[:12]))
@pytest.mark.parametrize("path,make,where", WRITES, ids=[f"{p}-{w}" for p, _, w in WRITES])
async def test_a_key_convex_clients_cannot_read_is_refused_naming_its_path(
    api, thread_id, database, key, path, make, where
):
    before = snapshot(database)

    message = await api.mutation_error(path, make(thread_id, {"ok": 1, key: "v"}))

    assert message == _message(where, key)
    assert snapshot(database) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_keys_at_the_edges_of_the_rule_are_stored_as_sent(api, thread_id):
    value = {key: index for index, key in enumerate(READABLE_KEYS)}

    call_id = await api.mutation(
        "toolCalls:record", {"threadId": thread_id, "toolName": "x", "input": value}
    )

    (stored,) = await api.query("toolCalls:list", {"threadId": thread_id})
    assert (stored["_id"], stored["input"]) == (call_id, value)


# -- data stored before the rule: migration 0006

LEGACY_METADATA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "naïve": {"$ref": "#/$defs/x", "_$ref": "taken", "": 0},
    "list": [{"\x01": 1}, "$not-a-key", {"ok": True}],
    "k" * 1030: 1,
    "plain": "unchanged ü",
}
REWRITTEN_METADATA = {
    "_$schema": "https://json-schema.org/draft/2020-12/schema",
    "na\\u00efve": {"_$ref_2": "#/$defs/x", "_$ref": "taken", "_": 0},
    "list": [{"\\u0001": 1}, "$not-a-key", {"ok": True}],
    "k" * 1024: 1,
    "plain": "unchanged ü",
}
LEGACY_INPUT = {
    "type": "object",
    "properties": {"path": {"$ref": "#/$defs/path"}, "日本": {"type": "string"}},
    "$defs": {"path": {"type": "string"}},
}
REWRITTEN_INPUT = {
    "type": "object",
    "properties": {"path": {"_$ref": "#/$defs/path"}, "\\u65e5\\u672c": {"type": "string"}},
    "_$defs": {"path": {"type": "string"}},
}


def _legacy_database(url: str) -> dict[str, str]:
    """A database at migration 0005 holding a thread and a tool call with unreadable keys, then
    migrated to head."""
    migrations.upgrade(url, "0005")
    engine = sa.create_engine(url)
    json_type = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
    threads = sa.table(
        "threads",
        *(sa.column(c) for c in ("id", "creation_time", "title", "status", "updated_time")),
        sa.column("metadata", json_type),
    )
    tool_calls = sa.table(
        "tool_calls",
        *(sa.column(c) for c in ("id", "creation_time", "thread_id", "tool_name", "status")),
        sa.column("input", json_type),
        sa.column("output", json_type),
    )
    ids = {"thread": new_id("threads"), "call": new_id("tool_calls")}
    with engine.begin() as conn:
        conn.execute(
            sa.insert(threads).values(
                id=ids["thread"],
                creation_time=1.0,
                title="legacy",
                status="active",
                updated_time=1.0,
                metadata=LEGACY_METADATA,
            )
        )
        conn.execute(
            sa.insert(tool_calls).values(
                id=ids["call"],
                creation_time=2.0,
                thread_id=ids["thread"],
                tool_name="read_file",
                status="succeeded",
                input=LEGACY_INPUT,
                output={"ok": ["$ref"]},
            )
        )
    engine.dispose()
    migrations.upgrade(url)
    return ids


@pytest.fixture
def legacy(monkeypatch, tmp_path) -> Iterator[dict[str, str]]:
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    ids = _legacy_database(url)
    _use_database(monkeypatch, url)
    yield {**ids, "url": url}
    db.reset_engines()
    writer.reset_writers()


async def test_migration_0006_rewrites_stored_keys_convex_clients_cannot_read(legacy):
    thread = await call("threads:get", {"threadId": legacy["thread"]}, CLI_CALLER)
    (tool_call,) = await call("toolCalls:list", {"threadId": legacy["thread"]}, CLI_CALLER)

    assert thread["metadata"] == REWRITTEN_METADATA
    assert (tool_call["input"], tool_call["output"]) == (REWRITTEN_INPUT, {"ok": ["$ref"]})


# -- the official client reads every answer


def _read_with_the_official_client(url: str, key: str, calls: list[dict]) -> list[dict]:
    ensure_node_client()
    completed = subprocess.run(
        ["node", "http_reads.mjs", url],
        cwd=CONVEX_JS,
        env={**os.environ, "TL_KEY": key, "TL_CALLS": json.dumps(calls)},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    print(completed.stdout)
    return [json.loads(line) for line in completed.stdout.splitlines()]


async def test_the_official_convex_client_reads_tool_calls_and_threads_faithfully(legacy):
    key = (await call("apiKeys:create", {"name": "convex client"}, CLI_CALLER))["key"]
    # What agents record today: a JSON Schema tool input kept verbatim as a JSON string, and
    # keys at the edges of the rule.
    schema = json.dumps({"$schema": "x", "properties": {"naïve": {"$ref": "#/$defs/a"}}})
    edges = {key_: index for index, key_ in enumerate(READABLE_KEYS)}
    thread_id = await call("threads:create", {"title": "naïve ✓", "metadata": edges}, CLI_CALLER)
    await call(
        "toolCalls:record",
        {"threadId": thread_id, "toolName": "t", "input": schema, "output": {"big": 2**53}},
        CLI_CALLER,
    )
    reads = [
        {"path": "threads:get", "args": {"threadId": legacy["thread"]}},
        {"path": "toolCalls:list", "args": {"threadId": legacy["thread"]}},
        {"path": "threads:get", "args": {"threadId": thread_id}},
        {"path": "toolCalls:list", "args": {"threadId": thread_id}},
    ]
    server = ServerProcess(legacy["url"]).start()
    try:
        answers = _read_with_the_official_client(server.url, key, reads)
    finally:
        server.stop()

    assert [a.get("threw") for a in answers] == [None] * 4, answers
    legacy_thread, legacy_calls, thread, calls = (a["value"] for a in answers)
    assert legacy_thread["metadata"] == REWRITTEN_METADATA
    assert legacy_calls[0]["input"] == REWRITTEN_INPUT
    assert (thread["title"], thread["metadata"]) == ("naïve ✓", edges)
    assert (calls[0]["input"], calls[0]["output"]) == (schema, {"big": 2**53})
    assert json.loads(calls[0]["input"])["properties"]["naïve"] == {"$ref": "#/$defs/a"}
