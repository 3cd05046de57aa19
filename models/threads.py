"""The seed's six tables: threads and everything that hangs off a thread."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import JSONType


class Thread(SQLModel, table=True):
    __tablename__ = "threads"
    __table_args__ = (
        sa.Index("ix_threads_creation", "creation_time", "id"),
        sa.Index("ix_threads_status_creation", "status", "creation_time", "id"),
        sa.Index("ix_threads_user_creation", "user_id", "creation_time", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    user_id: str | None = Field(default=None, max_length=200)
    title: str = ""
    status: str = Field(default="active", max_length=20)
    meta: dict[str, Any] | None = Field(
        default=None, sa_column=sa.Column("metadata", JSONType, nullable=True)
    )
    updated_time: float  # changes of the thread document itself (title, status, metadata)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (sa.UniqueConstraint("thread_id", "order", name="uq_messages_thread_order"),)

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    thread_id: str = Field(foreign_key="threads.id", ondelete="CASCADE", max_length=40)
    role: str = Field(max_length=20)
    content: str
    order: int
    meta: dict[str, Any] | None = Field(
        default=None, sa_column=sa.Column("metadata", JSONType, nullable=True)
    )


class Artifact(SQLModel, table=True):
    __tablename__ = "artifacts"
    __table_args__ = (
        sa.Index("ix_artifacts_thread_creation", "thread_id", "creation_time", "id"),
        sa.Index("ix_artifacts_status_creation", "status", "creation_time", "id"),
        sa.Index("ix_artifacts_type_creation", "type", "creation_time", "id"),
        sa.Index("ix_artifacts_creation", "creation_time", "id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    thread_id: str = Field(foreign_key="threads.id", ondelete="CASCADE", max_length=40)
    type: str = Field(max_length=40)
    title: str | None = None
    content: str
    status: str = Field(max_length=20)
    version: int = 1
    updated_time: float


class ArtifactVersion(SQLModel, table=True):
    __tablename__ = "artifact_versions"
    __table_args__ = (
        sa.UniqueConstraint("artifact_id", "version", name="uq_artifact_versions_artifact_version"),
    )

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    artifact_id: str = Field(foreign_key="artifacts.id", ondelete="CASCADE", max_length=40)
    version: int
    content: str
    status: str = Field(max_length=20)
    # "user:<id>" or "key:<id>": who wrote this version.
    created_by: str = Field(max_length=60)


class Session(SQLModel, table=True):
    __tablename__ = "sessions"

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    thread_id: str = Field(foreign_key="threads.id", ondelete="CASCADE", unique=True, max_length=40)
    sdk_session_id: str | None = None
    phase: str | None = None
    plan: str | None = None
    state: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))
    updated_time: float


class ToolCall(SQLModel, table=True):
    __tablename__ = "tool_calls"
    __table_args__ = (
        sa.Index("ix_tool_calls_thread_creation", "thread_id", "creation_time", "id"),
        sa.Index("ix_tool_calls_creation", "creation_time"),
        # NULLs are distinct in a unique index (SQLite and PostgreSQL), so calls without
        # a toolCallId never collide.
        sa.UniqueConstraint("thread_id", "tool_call_id", name="uq_tool_calls_thread_call"),
        # Only calls flagged outside an approved plan are indexed (rare), for the approval page's
        # list and the dashboard's count; every other insert pays nothing for them.
        sa.Index(
            "ix_tool_calls_outside_plan_request",
            "approval_request_id",
            "creation_time",
            sqlite_where=sa.text("outside_plan = 1"),
            postgresql_where=sa.text("outside_plan"),
        ),
        sa.Index(
            "ix_tool_calls_outside_plan_creation",
            "creation_time",
            sqlite_where=sa.text("outside_plan = 1"),
            postgresql_where=sa.text("outside_plan"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    thread_id: str = Field(foreign_key="threads.id", ondelete="CASCADE", max_length=40)
    tool_name: str = Field(max_length=200)
    input: Any = Field(default=None, sa_column=sa.Column(JSONType))
    output: Any = Field(default=None, sa_column=sa.Column(JSONType))
    status: str = Field(max_length=20)
    tool_call_id: str | None = Field(default=None, max_length=200)
    duration_ms: float | None = None
    # Set when the call was checked against an approved plan (the thread's latest approved
    # request with plannedToolCalls): the request's id, and whether the call was outside it.
    # Calls recorded before any such approval keep both null. No foreign key: a request goes
    # only with its thread, which takes its tool calls with it.
    outside_plan: bool | None = None
    approval_request_id: str | None = Field(default=None, max_length=40)


class ApprovalRequest(SQLModel, table=True):
    __tablename__ = "approval_requests"
    __table_args__ = (
        sa.Index("ix_approval_requests_status_creation", "status", "creation_time", "id"),
        sa.Index("ix_approval_requests_thread_creation", "thread_id", "creation_time", "id"),
        sa.Index("ix_approval_requests_creation", "creation_time", "id"),
        sa.Index("ix_approval_requests_decided", "decided_time"),
        # The deadline watcher's next due request, and the inbox's deadline order.
        sa.Index(
            "ix_approval_requests_status_expires", "status", "expires_time", "creation_time", "id"
        ),
        # toolCalls:record's one lookup: the thread's latest approved request with a plan. Only
        # such requests are indexed. Queries must spell the predicate with literals (SQLite and
        # PostgreSQL's generic plans cannot match a bound parameter against it).
        sa.Index(
            "ix_approval_requests_thread_approved_plan",
            "thread_id",
            "decided_time",
            sqlite_where=sa.text("status = 'approved' AND planned_tool_calls IS NOT NULL"),
            postgresql_where=sa.text("status = 'approved' AND planned_tool_calls IS NOT NULL"),
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    thread_id: str = Field(foreign_key="threads.id", ondelete="CASCADE", max_length=40)
    plan_content: str
    artifact_id: str | None = Field(
        default=None, foreign_key="artifacts.id", ondelete="SET NULL", max_length=40
    )
    status: str = Field(max_length=20)
    decided_by: str | None = Field(default=None, max_length=40)
    decided_time: float | None = None
    comment: str | None = None
    edited_plan: str | None = None
    # The version of the linked artifact the decision was made on (approvalRequests:resolve).
    artifact_version: int | None = None
    # approvalRequests:create's timeoutMs as a deadline (ms since the epoch): a request still
    # pending then becomes `expired` (api/deadlines.py).
    expires_time: float | None = None
    # The two-person rule: this many different people must approve; each approval is kept in
    # `approvals` as {userId, decidedTime, comment?, artifactVersion?}, oldest first.
    required_approvals: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    approvals: list[dict[str, Any]] | None = Field(default=None, sa_column=sa.Column(JSONType))
    # [{toolName, input?}]: what the plan will run (approvalRequests:create); null: no plan given.
    planned_tool_calls: Any = Field(default=None, sa_column=sa.Column(JSONType, nullable=True))
    # "I am reviewing this" (approvalRequests:claim): who and when; it lapses after 15 minutes,
    # which reads work out (api/claims.py), so nothing has to clear it.
    claimed_by: str | None = Field(default=None, max_length=40)
    claimed_time: float | None = None
