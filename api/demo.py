"""`threadline demo-data`: fill a database with realistic agent runs, for trying the console and
for the console benchmarks (bench/console.py).

Rows are bulk-inserted (SQLAlchemy Core, a few thousand per statement) rather than sent through
the functions one by one: 100,000 threads with their messages, tool calls, sessions, artifacts and
approval requests take under a minute instead of many. The shapes are the functions' own.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from api.db import get_engine
from api.vocabulary import (
    ACTIVE,
    APPROVED,
    ARCHIVED,
    ASSISTANT,
    CHANGES_REQUESTED,
    DRAFT,
    FAILED,
    PENDING,
    PENDING_REVIEW,
    REJECTED,
    REVIEWER,
    SUCCEEDED,
    USER,
)
from models import (
    ApprovalRequest,
    Artifact,
    ArtifactVersion,
    Message,
    Session,
    Thread,
    ToolCall,
    User,
)
from models.ids import new_id

DAY_MS = 24 * 3600 * 1000
VERBS = ["Refactor", "Fix", "Add", "Migrate", "Speed up", "Document", "Test", "Remove", "Upgrade"]
OBJECTS = [
    "payment retry logic",
    "the login flow",
    "CSV export",
    "search indexing",
    "the billing cron",
    "rate limiter",
    "webhook signatures",
    "image uploads",
    "the onboarding email",
    "audit trail",
    "feature flags",
    "the GraphQL schema",
    "session storage",
    "PDF invoices",
    "the mobile nav",
]
TOOLS = {
    "Read": lambda rng: (
        {"file_path": f"src/{rng.choice(['api', 'core', 'web'])}/module_{rng.randint(1, 80)}.py"},
        {"lines": rng.randint(20, 900)},
    ),
    "Grep": lambda rng: (
        {"pattern": rng.choice(["retry", "TODO", "def handle", "import os"]), "path": "src"},
        {"matches": rng.randint(0, 40)},
    ),
    "Edit": lambda rng: (
        {
            "file_path": f"src/core/module_{rng.randint(1, 80)}.py",
            "old_string": "x = 1",
            "new_string": "x = 2",
        },
        {"ok": True},
    ),
    "Bash": lambda rng: (
        {"command": rng.choice(["pytest -q", "ruff check .", "git diff --stat", "make build"])},
        {"exit_code": rng.choice([0, 0, 0, 1]), "stdout": "...\n"},
    ),
}
PHASES = ["planning", "awaiting_approval", "executing", "done", "done", "done"]


def plan_text(title: str, rng: random.Random) -> str:
    steps = "\n".join(
        f"{i}. {rng.choice(VERBS)} {rng.choice(OBJECTS)}" for i in range(1, rng.randint(3, 7))
    )
    return (
        f"# Plan: {title}\n\n## Goal\n{title} without changing public behaviour.\n\n"
        f"## Steps\n{steps}\n\n## Risks\n- Tests may need new fixtures.\n"
        "- Rollback: revert the commit.\n"
    )


def message_text(role: str, title: str, index: int, rng: random.Random) -> str:
    if role == USER:
        return f"Please {title.lower()}. Keep the change small and add tests."
    found = f"Step {index}: I looked at `{rng.choice(OBJECTS)}`: {rng.randint(1, 9)} places."
    detail = "\n\n- first, the **call sites**\n- then the tests\n\n"
    return found + detail + "Streaming output, token by token. " * rng.randint(1, 8)


@dataclass
class Batches:
    """Rows waiting to be inserted; all are written, parents first, once one table has `size`."""

    conn: sa.Connection
    size: int = 5000
    rows: dict[sa.Table, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, model: Any, row: dict[str, Any]) -> None:
        pending = self.rows.setdefault(model.__table__, [])
        pending.append(row)
        if len(pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        parents_first = [Thread.__table__, Artifact.__table__]
        for table in parents_first + [t for t in self.rows if t not in parents_first]:
            if self.rows.get(table):
                self.conn.execute(sa.insert(table), self.rows[table])
                self.rows[table] = []


def progress(done: int, total: int, started: float, label: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    rate = done / max(time.monotonic() - started, 1e-6)
    sys.stderr.write(
        f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} ({rate:,.0f}/s) "
    )
    sys.stderr.flush()
    if done >= total:
        sys.stderr.write("\n")


def generate(threads: int, big_thread_messages: int, pending: int, seed: int = 7) -> dict[str, Any]:
    """Inserts the demo data; returns ids worth knowing (the big thread, a reviewer)."""
    rng = random.Random(seed)
    engine = get_engine()
    now = time.time() * 1000
    span = 30 * DAY_MS
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        reviewer = new_id("users")
        conn.execute(
            sa.insert(User.__table__),
            [
                {
                    "id": reviewer,
                    "creation_time": now - span,
                    "email": f"demo-reviewer-{reviewer[-6:]}@example.invalid",
                    "name": "Demo Reviewer",
                    "role": REVIEWER,
                    "password_hash": None,
                    "disabled": False,
                    "updated_time": now,
                }
            ],
        )
        batches = Batches(conn)
        started = time.monotonic()
        for index in range(threads):
            created = now - span + span * index / max(threads, 1)
            for name, count in _thread_rows(batches, rng, created, reviewer, index).items():
                counts[name] = counts.get(name, 0) + count
            if index % 2000 == 0 or index == threads - 1:
                progress(index + 1, threads, started, "threads ")
        batches.flush()
        counts["pending approvals"] = _reopen_latest(conn, pending)
        big = _big_thread(batches, rng, now - DAY_MS, big_thread_messages)
        batches.flush()
    counts["big thread messages"] = big_thread_messages
    return {"bigThreadId": big, "reviewerId": reviewer, "counts": counts}


def _reopen_latest(conn: sa.Connection, count: int) -> int:
    """The newest `count` approval requests become pending again: the inbox's queue."""
    requests = ApprovalRequest.__table__
    latest = sa.select(requests.c.id).order_by(requests.c.creation_time.desc()).limit(count)
    ids = conn.execute(latest).scalars().all()
    conn.execute(
        sa.update(requests)
        .where(requests.c.id.in_(ids))
        .values(status=PENDING, decided_by=None, decided_time=None, comment=None)
    )
    return len(ids)


def _thread_rows(
    batches: Batches, rng: random.Random, created: float, reviewer: str, index: int
) -> dict[str, int]:
    counts = {"threads": 1}
    thread_id = new_id("threads")
    title = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    batches.add(
        Thread,
        {
            "id": thread_id,
            "creation_time": created,
            "user_id": f"user_{rng.randint(1, 500)}",
            "title": title,
            "status": ARCHIVED if rng.random() < 0.1 else ACTIVE,
            "metadata": {
                "model": "claude-sonnet",
                "repo": f"acme/{rng.choice(['web', 'api', 'infra'])}",
            },
            "updated_time": created,
        },
    )
    clock = created
    for order in range(rng.randint(2, 6)):
        clock += rng.uniform(500, 20_000)
        role = USER if order == 0 else ASSISTANT
        batches.add(
            Message,
            {
                "id": new_id("messages"),
                "creation_time": clock,
                "thread_id": thread_id,
                "role": role,
                "content": message_text(role, title, order, rng),
                "order": order,
                "metadata": None,
            },
        )
        counts["messages"] = counts.get("messages", 0) + 1
        if role == ASSISTANT and rng.random() < 0.5:
            tool = rng.choice(list(TOOLS))
            tool_input, tool_output = TOOLS[tool](rng)
            clock += rng.uniform(100, 3000)
            failed = rng.random() < 0.05
            batches.add(
                ToolCall,
                {
                    "id": new_id("tool_calls"),
                    "creation_time": clock,
                    "thread_id": thread_id,
                    "tool_name": tool,
                    "input": tool_input,
                    "output": {"error": "exit status 1"} if failed else tool_output,
                    "status": FAILED if failed else SUCCEEDED,
                    "tool_call_id": f"toolu_{index}_{order}",
                    "duration_ms": round(rng.uniform(5, 4000), 1),
                },
            )
            counts["tool calls"] = counts.get("tool calls", 0) + 1
    phase = rng.choice(PHASES)
    plan = plan_text(title, rng)
    batches.add(
        Session,
        {
            "id": new_id("sessions"),
            "creation_time": created,
            "thread_id": thread_id,
            "sdk_session_id": f"sdk-{index:06d}",
            "phase": phase,
            "plan": plan if phase != "planning" else None,
            "state": {"turns": rng.randint(1, 40)},
            "updated_time": clock,
        },
    )
    if rng.random() < 0.3:
        artifact_id = new_id("artifacts")
        versions = rng.randint(1, 3)
        status = rng.choice([APPROVED, APPROVED, PENDING_REVIEW, DRAFT, REJECTED])
        batches.add(
            Artifact,
            {
                "id": artifact_id,
                "creation_time": created + 1,
                "thread_id": thread_id,
                "type": "plan",
                "title": f"Plan: {title}",
                "content": plan,
                "status": status,
                "version": versions,
                "updated_time": clock,
            },
        )
        for version in range(1, versions + 1):
            batches.add(
                ArtifactVersion,
                {
                    "id": new_id("artifact_versions"),
                    "creation_time": created + version,
                    "artifact_id": artifact_id,
                    "version": version,
                    "content": plan
                    if version == versions
                    else plan.replace("Steps", f"Steps (draft {version})"),
                    "status": status,
                    "created_by": "key:demo",
                },
            )
        counts["artifacts"] = counts.get("artifacts", 0) + 1
        if created > time.time() * 1000 - 14 * DAY_MS and rng.random() < 0.3:
            decision = rng.choice([APPROVED, APPROVED, APPROVED, REJECTED, CHANGES_REQUESTED])
            decided_time = clock + rng.uniform(60_000, 4 * 3600_000)
            batches.add(
                ApprovalRequest,
                {
                    "id": new_id("approval_requests"),
                    "creation_time": clock,
                    "thread_id": thread_id,
                    "plan_content": plan,
                    "artifact_id": artifact_id,
                    "status": decision,
                    "decided_by": reviewer,
                    "decided_time": decided_time,
                    "comment": rng.choice(
                        [
                            None,
                            "Looks good.",
                            "Please split step 3.",
                            "Too risky before the release.",
                        ]
                    ),
                    "edited_plan": None,
                },
            )
            counts["approval requests"] = counts.get("approval requests", 0) + 1
    return counts


def _big_thread(batches: Batches, rng: random.Random, created: float, messages: int) -> str:
    thread_id = new_id("threads")
    title = "Long-running migration of the monolith (10k messages)"
    batches.add(
        Thread,
        {
            "id": thread_id,
            "creation_time": created,
            "user_id": "user_1",
            "title": title,
            "status": ACTIVE,
            "metadata": {"model": "claude-sonnet"},
            "updated_time": created,
        },
    )
    started = time.monotonic()
    clock = created
    for order in range(messages):
        clock += rng.uniform(50, 2000)
        role = USER if order % 25 == 0 else ASSISTANT
        batches.add(
            Message,
            {
                "id": new_id("messages"),
                "creation_time": clock,
                "thread_id": thread_id,
                "role": role,
                "content": message_text(role, title, order, rng),
                "order": order,
                "metadata": None,
            },
        )
        if order % 5 == 0:
            tool = rng.choice(list(TOOLS))
            tool_input, tool_output = TOOLS[tool](rng)
            batches.add(
                ToolCall,
                {
                    "id": new_id("tool_calls"),
                    "creation_time": clock + 1,
                    "thread_id": thread_id,
                    "tool_name": tool,
                    "input": tool_input,
                    "output": tool_output,
                    "status": SUCCEEDED,
                    "tool_call_id": f"toolu_big_{order}",
                    "duration_ms": round(rng.uniform(5, 4000), 1),
                },
            )
        if order % 1000 == 0 or order == messages - 1:
            progress(order + 1, messages, started, "big thread")
    batches.add(
        Session,
        {
            "id": new_id("sessions"),
            "creation_time": created,
            "thread_id": thread_id,
            "sdk_session_id": "sdk-big",
            "phase": "executing",
            "plan": None,
            "state": {"turns": messages},
            "updated_time": clock,
        },
    )
    return thread_id
