"""Property-based: every registered function, called through HTTP with arguments generated from its
own argument model (its JSON Schema, the one that validates calls) and with hostile variants of
them, never answers 5xx, never stores anything when it refuses, and never answers JSON that the
official Convex clients cannot read.

Deterministic in CI (`derandomize`), bounded per function; THREADLINE_PROPERTY_EXAMPLES raises
the number of examples for a longer local hunt.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel

import api.calls  # noqa: F401  (registers every function)
from api import db, writer
from api.calls import call
from api.cli import CLI_CALLER
from api.functions import approval_requests
from api.registry import REGISTRY, is_convex_key
from api.services import signin
from models import AuditEntry, AuthSession

EXAMPLES = int(os.environ.get("THREADLINE_PROPERTY_EXAMPLES", "25"))
# SQLite in CI (bounded time); THREADLINE_PROPERTY_POSTGRES=1 runs them on PostgreSQL as well.
DATABASES = ["sqlite"] + (
    [pytest.param("postgres", marks=pytest.mark.postgres)]
    if os.environ.get("THREADLINE_PROPERTY_POSTGRES")
    else []
)
PATHS = sorted(REGISTRY)
CALLERS = ["key", "admin", "reviewer", "user"]
# Fields naming a stored row: generated values are mostly unknown ids, so the world's own ids
# are offered too, to reach past "not found".
ID_FIELDS = ("threadId", "artifactId", "approvalRequestId", "userId", "apiKeyId", "sessionId")
DEEP = 70


def _nested(levels: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def _float64(value: float) -> dict[str, str]:
    return {"$float": base64.b64encode(struct.pack("<d", value)).decode()}


HOSTILE_VALUES = [
    2**31,
    2**63,
    2**64,
    -(2**63) - 1,
    10**300,
    1e300,
    -1e300,
    1.7976931348623157e308,
    5e-324,
    -0.0,
    True,
    None,
    "",
    [],
    {},
    "x" * 100_000,
    "\u202e\u200b\ufeff",
    "😀" * 500,
    "\U0010ffff",
    "'; DROP TABLE threads; --",
    _nested(DEEP),
    _nested(60),
    [[[[[[[[[[[]]]]]]]]]]],
    {"$ref": "#/x"},
    {"naïve": 1},
    {"": 1},
    {"tab\t": 1},
    {"k" * 1025: 1},
    {"numItems": 10**30, "cursor": "end"},
    {"numItems": 5, "cursor": "eyJhIjoxfQ"},
    "end",
]
# Sent as raw JSON text, past what json.dumps would write: NaN and infinities, an id that is
# a lone surrogate, and nesting too deep for a recursive parser.
RAW_HOSTILE = ["NaN", "Infinity", "-Infinity", '"\\ud800"', "[" * 5000 + "]" * 5000, "1e999"]
# Convex-encoded specials, sent with format convex_encoded_json.
ENCODED_HOSTILE = [
    _float64(float("nan")),
    _float64(float("inf")),
    {"$integer": base64.b64encode(struct.pack("<q", -(2**63))).decode()},
    {"$integer": "AAAA"},
    {"$bytes": "AAAA"},
]


def json_values() -> st.SearchStrategy[Any]:
    leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
        max_leaves=12,
    )


def from_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> st.SearchStrategy:
    """Values valid for a JSON Schema as pydantic writes them for argument models: $ref/$defs,
    anyOf, enum/const, typed strings (maxLength, pattern), numbers with bounds, arrays and
    objects (required and optional properties), and {} for any JSON."""
    defs = schema.get("$defs", defs or {})
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return st.one_of(*(from_schema(option, defs) for option in schema["anyOf"]))
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "string":
        if "pattern" in schema:
            limit = schema.get("maxLength", 200)
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda text: len(text) <= limit
            )
        size = min(schema.get("maxLength", 40), 40)
        return st.text(min_size=schema.get("minLength", 0), max_size=size)
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.floats(low, high, allow_nan=False, allow_infinity=False) | st.integers(
            None if low is None else int(low), None if high is None else int(high)
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), defs), max_size=3)
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        fixed = st.fixed_dictionaries(
            {name: from_schema(sub, defs) for name, sub in properties.items() if name in required},
            optional={
                name: from_schema(sub, defs)
                for name, sub in properties.items()
                if name not in required
            },
        )
        if properties or schema.get("additionalProperties") is False:
            return fixed
        return st.dictionaries(st.text(max_size=10), json_values(), max_size=4)
    return json_values()


def hostile_value() -> st.SearchStrategy[Any]:
    return st.sampled_from(HOSTILE_VALUES) | json_values()


# -- the world every example runs in: one of each row, people of each role, a victim to act on


class World:
    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.engine = sa.create_engine(url)
        self.http: httpx.AsyncClient | None = None
        self.headers: dict[str, dict[str, str]] = {}
        self.ids: dict[str, list[str]] = {}
        # Every table's row count in one statement (it runs twice per call).
        audit = AuditEntry.__table__
        tables = SQLModel.metadata.sorted_tables
        self._count_names = [table.name for table in tables]
        self._count_all = sa.select(
            *(
                sa.select(sa.func.count())
                .select_from(table)
                .where(audit.c.action != "signin.failure" if table is audit else sa.true())
                .scalar_subquery()
                for table in tables
            )
        )

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    async def setup(self) -> None:
        from api.ingest import create_served_api

        # As production serves it: the ingest fast lane in front of the full stack.
        transport = httpx.ASGITransport(app=create_served_api())
        self.http = httpx.AsyncClient(transport=transport, base_url="http://threadline.test")
        people = {}
        for role in ("admin", "reviewer", "user", "viewer"):
            email, password = f"{role}@example.com", f"{role}-password-1"
            people[role] = await call(
                "users:create",
                {"email": email, "name": role, "role": role, "password": password},
                CLI_CALLER,
            )
            token = (await signin.sign_in(email, password)).token
            self.headers[role] = {"Authorization": f"Bearer {token}"}
        key = await call("apiKeys:create", {"name": "fuzz"}, CLI_CALLER)
        self.headers["key"] = {"Authorization": f"Bearer {key['key']}"}
        # Someone to change, disable and revoke: never the callers themselves.
        victim = await call(
            "users:create",
            {"email": "victim@example.com", "name": "V", "role": "viewer", "password": "victim-1"},
            CLI_CALLER,
        )
        await signin.sign_in("victim@example.com", "victim-1")
        sessions = AuthSession.__table__
        with self.engine.connect() as conn:
            victim_session = conn.execute(
                sa.select(sessions.c.id).where(sessions.c.user_id == victim)
            ).scalar_one()
        victim_key = await call("apiKeys:create", {"name": "victim"}, CLI_CALLER)
        thread = await call(
            "threads:create", {"title": "world", "userId": people["user"]}, CLI_CALLER
        )
        await call(
            "messages:create", {"threadId": thread, "role": "user", "content": "hi"}, CLI_CALLER
        )
        artifact = await call(
            "artifacts:create",
            {"threadId": thread, "type": "plan", "content": "1. a\n2. b"},
            CLI_CALLER,
        )
        await call(
            "toolCalls:record",
            {"threadId": thread, "toolName": "t", "input": {"a": 1}, "toolCallId": "c1"},
            CLI_CALLER,
        )
        await call("sessions:upsert", {"threadId": thread, "phase": "planning"}, CLI_CALLER)
        request = await call(
            "approvalRequests:create",
            {"threadId": thread, "planContent": "1. a", "artifactId": artifact},
            CLI_CALLER,
        )
        self.ids = {
            "threadId": [thread],
            "artifactId": [artifact],
            "approvalRequestId": [request],
            "userId": [victim, people["user"]],
            "apiKeyId": [victim_key["apiKeyId"]],
            "sessionId": [victim_session],
        }

    def counts(self) -> dict[str, int]:
        """Rows per table, but for failed password checks: a wrong current password in
        users:changePassword is refused *and* recorded as a failed sign-in, on purpose (the
        sign-in throttle counts it, so a stolen session cannot guess the password freely)."""
        with self.engine.connect() as conn:
            row = conn.execute(self._count_all).one()
        return dict(zip(self._count_names, row, strict=True))

    def close(self) -> None:
        if self.http is not None:
            self.run(self.http.aclose())
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.run(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()
        self.engine.dispose()


@pytest.fixture
def world(database_url, monkeypatch) -> Iterator[World]:
    # Long polls would wait up to a minute per example.
    monkeypatch.setattr(approval_requests, "MAX_WAIT_MS", 5)
    writer.reset_writers()
    instance = World(database_url)
    instance.run(instance.setup())
    yield instance
    instance.close()
    writer.reset_writers()
    db.reset_engines()


# -- the calls


def valid_args(path: str, world: World) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments from the function's own model, ids sometimes taken from the world."""
    model = REGISTRY[path].args_model
    generated = from_schema(model.model_json_schema())
    fields = [name for name in model.model_fields if name in ID_FIELDS]
    known = st.fixed_dictionaries(
        {}, optional={name: st.sampled_from(world.ids[name]) for name in fields}
    )
    return st.builds(lambda args, ids: {**args, **ids}, generated, known)


def hostile_args(path: str, world: World) -> st.SearchStrategy[tuple[str, str, str]]:
    """(format, args as JSON text, what was done): one field replaced by something hostile,
    or an unknown field added."""
    fields = [*REGISTRY[path].args_model.model_fields, "unknownField", "$ref"]

    def replaced(args: dict[str, Any], field: str, value: Any) -> tuple[str, str, str]:
        return "json", json.dumps({**args, field: value}), f"{field}={str(value)[:60]!r}"

    def raw(args: dict[str, Any], field: str, text: str) -> tuple[str, str, str]:
        body = json.dumps({**args, field: "__RAW__"}).replace('"__RAW__"', text)
        return "json", body, f"{field}=raw {text[:20]}"

    def encoded(args: dict[str, Any], field: str, value: Any) -> tuple[str, str, str]:
        return "convex_encoded_json", json.dumps({**args, field: value}), f"{field}={value}"

    base = valid_args(path, world)
    some_field = st.sampled_from(fields)
    return (
        st.builds(replaced, base, some_field, hostile_value())
        | st.builds(raw, base, some_field, st.sampled_from(RAW_HOSTILE))
        | st.builds(encoded, base, some_field, st.sampled_from(ENCODED_HOSTILE))
    )


def unreadable_keys(value: Any, where: str = "value") -> list[str]:
    """Paths in an answer holding object keys the official Convex clients throw on."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if not is_convex_key(key):
                found.append(f"{where}.{key!r}")
            found += unreadable_keys(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += unreadable_keys(item, f"{where}[{index}]")
    return found


async def _send(world: World, path: str, caller: str, fmt: str, args_text: str):
    spec = REGISTRY[path]
    body = f'{{"path": {json.dumps(path)}, "format": "{fmt}", "args": {args_text}}}'
    return await world.http.post(
        f"/api/{spec.kind}", content=body.encode(), headers=world.headers[caller]
    )


def check_one(world: World, path: str, caller: str, fmt: str, args_text: str, what: str) -> None:
    before = world.counts()
    try:
        response = world.run(_send(world, path, caller, fmt, args_text))
    except Exception as exc:  # the ASGI transport re-raises what the app did not handle
        pytest.fail(f"{path} as {caller} with {what}: unhandled {exc!r}")
    assert response.status_code < 500, (path, caller, what, response.text[:500])
    body = response.json()
    refused = response.status_code != 200 or body.get("status") != "success"
    if refused:
        assert world.counts() == before, (path, caller, what, body, "a refused call stored")
        assert isinstance(body.get("errorMessage") or body.get("message"), str), body
    else:
        assert unreadable_keys(body["value"]) == [], (path, caller, what)


PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


@pytest.mark.parametrize("database_url", DATABASES, indirect=True)
@pytest.mark.parametrize("path", PATHS)
def test_every_function_answers_generated_and_hostile_arguments_without_5xx(world, path):
    @PROPERTY
    @given(
        caller=st.sampled_from(CALLERS),
        call_=st.builds(lambda a: ("json", json.dumps(a), "generated"), valid_args(path, world))
        | hostile_args(path, world),
    )
    def property_(caller, call_):
        fmt, args_text, what = call_
        check_one(world, path, caller, fmt, args_text, what)

    property_()


def _base_args(path: str, world: World) -> dict[str, Any]:
    """The smallest arguments a function takes, with the world's ids: the base each hostile
    value is put into, so that it is the one thing wrong."""
    model = REGISTRY[path].args_model
    schema = model.model_json_schema()
    base: dict[str, Any] = {}
    for name in schema.get("required", []):
        if name in ID_FIELDS:
            base[name] = world.ids[name][0]
        elif name == "paginationOpts":
            base[name] = {"numItems": 5, "cursor": None}
        else:
            base[name] = _minimal(schema["properties"][name])
    return base


def _minimal(schema: dict[str, Any]) -> Any:
    """A plain valid value for a required field (deterministic, unlike a strategy's example)."""
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return _minimal(next(o for o in schema["anyOf"] if o.get("type") != "null"))
    kind = schema.get("type")
    if kind == "string":
        if "@" in schema.get("pattern", ""):
            return "fuzz@example.com"
        return "plan" if "pattern" in schema else "password-1"
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return {}


@pytest.mark.parametrize("database_url", DATABASES, indirect=True)
@pytest.mark.parametrize("path", PATHS)
def test_every_field_of_every_function_takes_every_hostile_value_without_5xx(world, path):
    """Exhaustive where the property test samples: each field (and an unknown one) replaced by
    each hostile value, as JSON, raw JSON text and Convex-encoded specials."""
    base = _base_args(path, world)
    fields = [*REGISTRY[path].args_model.model_fields, "unknownField"]
    for field in fields:
        for value in HOSTILE_VALUES:
            args = json.dumps({**base, field: value})
            check_one(world, path, "admin", "json", args, f"{field}={str(value)[:60]!r}")
        for text in RAW_HOSTILE:
            args = json.dumps({**base, field: "__RAW__"}).replace('"__RAW__"', text)
            check_one(world, path, "key", "json", args, f"{field}=raw {text[:20]}")
        for value in ENCODED_HOSTILE:
            args = json.dumps({**base, field: value})
            check_one(world, path, "admin", "convex_encoded_json", args, f"{field}={value}")
