"""People, their sign-in sessions, backend API keys, the audit log and idempotency records."""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import JSONType

ROLES = ("admin", "reviewer", "viewer", "user")


class User(SQLModel, table=True):
    __tablename__ = "users"
    __hidden__: ClassVar[frozenset[str]] = frozenset({"password_hash"})

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    email: str = Field(unique=True, max_length=320)  # stored lowercased
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    password_hash: str | None = Field(default=None, max_length=100)
    disabled: bool = False
    updated_time: float


class AuthSession(SQLModel, table=True):
    """A signed-in person's token. Only its SHA-256 is stored."""

    __tablename__ = "auth_sessions"
    __table_args__ = (sa.Index("ix_auth_sessions_user", "user_id", "creation_time"),)
    __hidden__: ClassVar[frozenset[str]] = frozenset({"token_hash"})

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    user_id: str = Field(foreign_key="users.id", max_length=40)
    token_hash: str = Field(unique=True, max_length=64)
    expires_time: float  # absolute expiry
    last_seen_time: float  # idle expiry counts from here
    revoked_time: float | None = None
    user_agent: str | None = Field(default=None, max_length=400)
    ip: str | None = Field(default=None, max_length=64)


class ApiKey(SQLModel, table=True):
    """A backend's key. Only its SHA-256 is stored; `prefix` identifies it in lists."""

    __tablename__ = "api_keys"
    __hidden__: ClassVar[frozenset[str]] = frozenset({"key_hash"})

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    name: str = Field(max_length=200)
    prefix: str = Field(max_length=20)
    key_hash: str = Field(unique=True, max_length=64)
    created_by: str | None = Field(default=None, max_length=60)
    last_used_time: float | None = None
    revoked_time: float | None = None


class AuditEntry(SQLModel, table=True):
    """Append-only: no function updates or deletes these rows."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_creation", "creation_time", "id"),
        sa.Index("ix_audit_log_actor_creation", "actor", "creation_time"),
        sa.Index("ix_audit_log_action_creation", "action", "creation_time"),
        sa.Index("ix_audit_log_target_creation", "target", "creation_time"),
        # the sign-in throttle's counts per client and per account (api/services/signin.py)
        sa.Index(
            "ix_audit_log_actor_label_action_creation", "actor_label", "action", "creation_time"
        ),
        sa.Index("ix_audit_log_target_action_creation", "target", "action", "creation_time"),
    )

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    actor: str = Field(max_length=60)  # "user:<id>", "key:<id>", "cli", "anonymous"
    actor_label: str | None = Field(default=None, max_length=400)  # email or key name then
    action: str = Field(max_length=60)
    target: str | None = Field(default=None, max_length=200)
    details: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(JSONType))


class IdempotencyRecord(SQLModel, table=True):
    """The first result of a mutation sent with an Idempotency-Key, per caller."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.Index("ix_idempotency_keys_creation", "creation_time"),)

    caller: str = Field(primary_key=True, max_length=60)
    key: str = Field(primary_key=True, max_length=200)
    path: str = Field(max_length=200)
    result: Any = Field(default=None, sa_column=sa.Column(JSONType))
    creation_time: float


class OneTimeLink(SQLModel, table=True):
    """A single-use link: first-run setup, or setting / resetting a person's password.
    Only the token's SHA-256 is stored; the link is shown once, to whoever asked for it."""

    __tablename__ = "one_time_links"
    __table_args__ = (sa.Index("ix_one_time_links_user", "user_id", "creation_time"),)
    __hidden__: ClassVar[frozenset[str]] = frozenset({"token_hash"})

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    purpose: str = Field(max_length=20)  # setup, set_password, reset_password
    token_hash: str = Field(unique=True, max_length=64)
    user_id: str | None = Field(default=None, foreign_key="users.id", max_length=40)
    created_by: str = Field(max_length=60)
    expires_time: float
    used_time: float | None = None


class RefreshToken(SQLModel, table=True):
    """A refresh token of @convex-dev/auth's sign-in (api/sync/convex_auth.py), tied to the
    person's sign-in session. Each use issues a child; only the SHA-256 is stored."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (sa.Index("ix_refresh_tokens_session", "session_id"),)
    __hidden__: ClassVar[frozenset[str]] = frozenset({"token_hash"})

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    session_id: str = Field(foreign_key="auth_sessions.id", max_length=40)
    parent_id: str | None = Field(default=None, max_length=40)
    token_hash: str = Field(unique=True, max_length=64)
    expires_time: float
    first_used_time: float | None = None


class ServerSecret(SQLModel, table=True):
    """Secrets the server makes itself on first use and every worker shares (the JWT key)."""

    __tablename__ = "server_secrets"
    __hidden__: ClassVar[frozenset[str]] = frozenset({"value"})

    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=200)
    creation_time: float
