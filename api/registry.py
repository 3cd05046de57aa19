"""The function registry: every contract function by name, its argument model and who may call it.

    @mutation("artifacts:create", args=CreateArgs, returns=ArtifactId, allow=WRITERS)
    def create(ctx: Context, args: CreateArgs) -> str: ...

`args` validates every call; `returns` describes the answer. Both feed GET /api/openapi.json,
`threadline codegen typescript` and docs/api.md (api/openapi.py), so those cannot drift.

HTTP callers and the Reflex console both go through `call()`, so argument validation, permission
checks and the write path are the same whoever calls. Mutations run inside the group-commit writer
(`api.writer`): each in its own savepoint of a shared transaction.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.engine import Connection

from api.errors import FunctionError, NotAllowed
from api.vocabulary import (  # noqa: F401 (the permission sets are imported from here too)
    ADMIN,
    ADMINS,
    ALL_READERS,
    BACKEND_WRITERS,
    DECIDERS,
    KEY,
    USER,
    WRITERS,
)
from models import Thread
from models.ids import is_id_for

# Who may call a function (ALL_READERS, WRITERS, BACKEND_WRITERS, DECIDERS, ADMINS, from
# api/vocabulary.py). Users (end users of a chat app) are further limited to their own threads
# inside each function; reviewers' artifact rights are checked in artifacts:update.

# `returns=NULL`: the function answers null.
NULL: Any = type(None)

MAX_JSON_DEPTH = 64
# Lone UTF-16 surrogates (from JSON escapes like "\ud800") cannot be encoded as UTF-8: neither
# database stores them, and an answer echoing one could not be sent.
_SURROGATE = re.compile("[\ud800-\udfff]")


def has_unstorable_text(text: str) -> bool:
    """True for text no database stores faithfully: NUL characters or unpaired surrogates.
    (ASCII text, what most of it is, cannot hold a surrogate: the regular expression is skipped.)"""
    if "\x00" in text:
        return True
    return not text.isascii() and _SURROGATE.search(text) is not None


@dataclass(frozen=True)
class Caller:
    """Who is calling: a backend's API key, a signed-in person, or the system itself (CLI)."""

    kind: Literal["key", "user", "system"]
    id: str
    label: str = ""
    role: str | None = None  # for people: admin, reviewer, viewer, user
    session_id: str | None = None  # for people: the sign-in session the call came through

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def grant(self) -> str:
        """The name this caller has in `allow` sets."""
        if self.kind == "user":
            return self.role or ""
        return self.kind if self.kind == KEY else ADMIN

    @property
    def is_end_user(self) -> bool:
        return self.kind == "user" and self.role == USER


class Args(BaseModel):
    """Base for argument models: strict types, unknown fields refused (like Convex validators)."""

    model_config = ConfigDict(strict=True, extra="forbid")


@dataclass
class Context:
    conn: Connection
    caller: Caller
    now: float
    _events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def emit(self, topic: str, payload: dict[str, Any]) -> None:
        """Publish an event once this function's writes are committed."""
        self._events.append((topic, payload))

    def require_id(self, table: str, value: str, field_name: str) -> str:
        if not is_id_for(table, value):
            raise FunctionError(f"{field_name} is not a valid {_singular(table)} id: {value!r}")
        return value

    def thread(self, thread_id: str, field_name: str = "threadId") -> Any:
        """The thread row, checked to exist and to be visible to the caller; else an error."""
        self.require_id("threads", thread_id, field_name)
        row = self.visible_thread(thread_id)
        if row is None:
            raise FunctionError(f"Thread {thread_id} not found")
        return row

    def visible_thread(self, thread_id: str) -> Any | None:
        """The thread row if it exists and the caller may see it, else None (for gets)."""
        if not is_id_for("threads", thread_id):
            return None
        table = Thread.__table__
        row = self.conn.execute(sa.select(table).where(table.c.id == thread_id)).first()
        if row is None or not self.may_see_thread(row):
            return None
        return row

    def may_see_thread(self, thread_row: Any) -> bool:
        return not self.caller.is_end_user or thread_row.user_id == self.caller.id

    def own_threads_filter(self, thread_id_column: sa.ColumnElement) -> sa.ColumnElement | None:
        """For end users, a filter keeping rows of their own threads; None for everyone else."""
        if not self.caller.is_end_user:
            return None
        table = Thread.__table__
        own = sa.select(table.c.id).where(table.c.user_id == self.caller.id)
        return thread_id_column.in_(own)

    def require_role(self, allowed: frozenset[str], action: str) -> None:
        if self.caller.grant not in allowed:
            raise NotAllowed(f"Not allowed: {_who(self.caller)} may not {action}")


@dataclass(frozen=True)
class FunctionSpec:
    path: str
    kind: Literal["query", "mutation"]
    args_model: type[Args]
    handler: Callable[[Context, Any], Any]
    allow: frozenset[str]
    # The result's type: a pydantic model or annotation; NULL for functions answering null.
    # (None: not declared, which tests/test_openapi.py refuses.)
    returns: Any = None
    # For long-polling queries: given the args and the first result, the event topic to wait on
    # and for how many seconds (or None to answer at once).
    wait: Callable[[Any], tuple[str, float, Callable[[Any], bool]]] | None = None
    # Slow work done before a mutation joins the writer's batch (bcrypt), off the event loop.
    prepare: Callable[[Any, Caller], Awaitable[None]] | None = None
    # Functions whose result is a secret shown once: never stored for Idempotency-Key replays.
    returns_secret: bool = False
    # Optional: runs many calls of this mutation from one batch together, answering for each its
    # result or the FunctionError it raises (see api/writer.py). `batchable(args)` picks the calls
    # it can take; the others run one by one through `handler`.
    batch: Callable[[list[tuple[Context, Any]]], list[Any]] | None = None
    batchable: Callable[[Any], bool] | None = None
    # Whether the batchable calls keep the SQLite writer's memo true (they write nothing a memo
    # entry describes, or update the entry themselves; see api/writer.py). Any other job empties it.
    batch_keeps_memo: bool = False


REGISTRY: dict[str, FunctionSpec] = {}


def _register(
    kind: Literal["query", "mutation"], path: str, args: type[Args], returns, allow, **options
):
    def decorator(handler):
        if path in REGISTRY:
            raise RuntimeError(f"function {path} registered twice")
        REGISTRY[path] = FunctionSpec(
            path, kind, args, handler, frozenset(allow), returns, **options
        )
        return handler

    return decorator


def mutation(
    path: str,
    *,
    args: type[Args],
    returns: Any = None,
    allow: frozenset[str] = WRITERS,
    prepare: Callable[[Any, Caller], Awaitable[None]] | None = None,
    returns_secret: bool = False,
    batch: Callable[[list[tuple[Context, Any]]], list[Any]] | None = None,
    batchable: Callable[[Any], bool] | None = None,
    batch_keeps_memo: bool = False,
):
    return _register(
        "mutation",
        path,
        args,
        returns,
        allow,
        prepare=prepare,
        returns_secret=returns_secret,
        batch=batch,
        batchable=batchable,
        batch_keeps_memo=batch_keeps_memo,
    )


def query(
    path: str,
    *,
    args: type[Args],
    returns: Any = None,
    allow: frozenset[str] = ALL_READERS,
    wait=None,
):
    return _register("query", path, args, returns, allow, wait=wait)


def normalize_path(path: object) -> str:
    """`module:function` or `module/function` (also `dir/module:function`) -> `module:function`."""
    if not isinstance(path, str) or not path:
        raise FunctionError("path must be a non-empty string like 'artifacts:create'")
    path = path.strip()
    if path.endswith(".js"):
        path = path[:-3]
    if ":" not in path and "/" in path:
        module, _, function = path.rpartition("/")
        path = f"{module}:{function}"
    return path


def lookup(path: object, kind: Literal["query", "mutation"] | None = None) -> FunctionSpec:
    name = normalize_path(path)
    spec = REGISTRY.get(name)
    if spec is None:
        raise FunctionError(f"Could not find public function for {name!r}")
    if kind is not None and spec.kind != kind:
        raise FunctionError(
            f"{name} is a {spec.kind}; call it through /api/{spec.kind}, not /api/{kind}"
        )
    return spec


def check_allowed(spec: FunctionSpec, caller: Caller) -> None:
    if caller.kind == "system":
        return
    if caller.grant not in spec.allow:
        raise NotAllowed(f"Not allowed: {_who(caller)} may not call {spec.path}")


def parse_args(spec: FunctionSpec, raw: object) -> Args:
    """Validate raw arguments into the function's model, with a message naming each bad field."""
    if isinstance(raw, list):
        if len(raw) != 1:
            raise FunctionError("args must be an object or an array holding exactly one object")
        raw = raw[0]
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise FunctionError(f"args must be an object, not {type(raw).__name__}")
    check_json(raw, "args")
    try:
        return spec.args_model.model_validate(raw)
    except ValidationError as exc:
        raise FunctionError(f"Invalid arguments for {spec.path}: {describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "args"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def check_json(value: object, where: str, depth: int = 0) -> None:
    """Refuse what the databases cannot store faithfully: NUL characters (PostgreSQL rejects them),
    unpaired surrogates, non-finite numbers, and nesting deeper than MAX_JSON_DEPTH.
    (Runs on every call: paths are only spelled out for an error.)"""
    if depth > MAX_JSON_DEPTH:
        raise FunctionError(f"{where} is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _text_problem(key)
            if problem is not None:
                raise FunctionError(f"{where} has a key containing {problem}")
            if not is_convex_key(key):
                raise FunctionError(convex_key_message(where, key))
            if isinstance(item, str):
                problem = _text_problem(item)
                if problem is not None:
                    raise FunctionError(f"{where}.{key} contains {problem}")
            elif isinstance(item, dict | list | float):
                check_json(item, f"{where}.{key}", depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str | dict | list | float):
                check_json(item, f"{where}[{index}]", depth + 1)
    elif isinstance(value, str):
        problem = _text_problem(value)
        if problem is not None:
            raise FunctionError(f"{where} contains {problem}")
    elif isinstance(value, float) and not math.isfinite(value):
        raise FunctionError(f"{where} must be a finite number")


# The longest object key Convex's clients read (`jsonToConvex`, convex/src/values/value.ts).
MAX_KEY_LENGTH = 1024


def is_convex_key(key: str) -> bool:
    """True for an object key the official Convex clients read back: 1 to 1024 printable ASCII
    characters (space to ~), not starting with '$' (reserved for Convex's encoded values)."""
    return 0 < len(key) <= MAX_KEY_LENGTH and key[0] != "$" and key.isascii() and key.isprintable()


def convex_key_message(where: str, key: str) -> str:
    """Why `key` cannot be stored, naming where it is; the caller's way out is a JSON string."""
    shown = json.dumps(key if len(key) <= 60 else key[:60] + "...", ensure_ascii=False)
    if not key:
        reason = "keys must not be empty"
    elif len(key) > MAX_KEY_LENGTH:
        reason = f"keys must be at most {MAX_KEY_LENGTH} characters long"
    elif key[0] == "$":
        reason = "keys starting with '$' are reserved by Convex"
    else:
        reason = "keys must be printable ASCII, without control characters"
    return (
        f"{where} has the key {shown}, which Convex clients cannot read ({reason}); "
        "rename it, or send the value as a JSON string (e.g. JSON.stringify / json.dumps)"
    )


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "a NUL character (\\u0000), which is not allowed"
    if not text.isascii() and _SURROGATE.search(text):
        return "an unpaired surrogate, which is not valid Unicode"
    return None


def _singular(table: str) -> str:
    return {
        "threads": "thread",
        "messages": "message",
        "artifacts": "artifact",
        "approval_requests": "approval request",
        "users": "user",
        "api_keys": "API key",
        "sessions": "session",
        "tool_calls": "tool call",
    }.get(table, table)


def _who(caller: Caller) -> str:
    if caller.kind == KEY:
        return "an API key"
    return f"a {caller.role}" if caller.role else "this caller"


_last_now = 0.0
_now_lock = threading.Lock()  # the PostgreSQL writer and readers call this from their threads


def next_creation_time() -> float:
    """Milliseconds since the epoch, strictly increasing within this process, so that documents
    created in one batch keep their order of arrival."""
    global _last_now
    with _now_lock:
        now = time.time() * 1000.0
        if now <= _last_now:
            now = _last_now + 0.001
        _last_now = now
        return now
