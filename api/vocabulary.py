"""The words Threadline's code shares: roles and who may call what, statuses (approval requests,
artifacts, threads, tool calls, webhook deliveries), message roles, and event topics.

Spell a role, a status or a topic through these names rather than as a bare string, so that
grep finds every place that means it.
"""

from __future__ import annotations

from typing import Literal

# ---- roles ------------------------------------------------------------------------------------
# A person's role (users.role), and the grant of a caller with an API key.
ADMIN = "admin"
REVIEWER = "reviewer"
VIEWER = "viewer"
USER = "user"  # an end user: their own threads only
KEY = "key"

Role = Literal["admin", "reviewer", "viewer", "user"]
ROLES = (ADMIN, REVIEWER, VIEWER, USER)
PEOPLE = frozenset(ROLES)

# Who may call a function (`allow=` of @query / @mutation): sets of grants.
ALL_READERS = frozenset({KEY, ADMIN, REVIEWER, VIEWER, USER})
# End users create threads and post their own (role "user") messages, checked in messages:create.
WRITERS = frozenset({KEY, ADMIN, USER})
# Everything else is written by backends: the agent's side of a thread (its messages, tool calls,
# session, artifacts and approval requests) and changes to the thread itself. An end user who
# could write these could forge what the agent said or ran, or approve their own plan.
BACKEND_WRITERS = frozenset({KEY, ADMIN})
DECIDERS = frozenset({ADMIN, REVIEWER})
ADMINS = frozenset({ADMIN})
# The console's read models are for staff and backends; end users see their own threads through
# the contract functions.
STAFF = frozenset({KEY, ADMIN, REVIEWER, VIEWER})

# ---- approval requests ------------------------------------------------------------------------
PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
CHANGES_REQUESTED = "changes_requested"
CANCELLED = "cancelled"
EXPIRED = "expired"

RequestStatus = Literal[
    "pending", "approved", "rejected", "changes_requested", "cancelled", "expired"
]
Decision = Literal["approved", "rejected", "changes_requested"]
DECISIONS = (APPROVED, REJECTED, CHANGES_REQUESTED)

# ---- artifacts --------------------------------------------------------------------------------
DRAFT = "draft"
PENDING_REVIEW = "pending_review"
FINAL = "final"

ArtifactStatus = Literal["draft", "pending_review", "approved", "rejected", "final"]

# ---- threads ----------------------------------------------------------------------------------
ACTIVE = "active"
ARCHIVED = "archived"

ThreadStatus = Literal["active", "archived"]

# ---- messages: who wrote one (not a person's role) -------------------------------------------
# An end user's message has role "user" (USER above); the rest are the agent's side.
ASSISTANT = "assistant"
SYSTEM = "system"
TOOL = "tool"

MessageRole = Literal["user", "assistant", "system", "tool"]
MESSAGE_ROLES = frozenset({USER, ASSISTANT, SYSTEM, TOOL})

# ---- tool calls -------------------------------------------------------------------------------
STARTED = "started"
SUCCEEDED = "succeeded"
FAILED = "failed"

ToolStatus = Literal["started", "succeeded", "failed"]

# ---- webhook deliveries (pending, then delivered or failed) -----------------------------------
DELIVERED = "delivered"

DeliveryStatus = Literal["pending", "delivered", "failed"]

# ---- event topics (api.events.bus) ------------------------------------------------------------
APPROVALS_CHANGED = "approvals:changed"
ARTIFACTS_CHANGED = "artifacts:changed"
CREDENTIALS_CHANGED = "credentials:changed"
SESSIONS_CHANGED = "sessions:changed"
THREADS_CHANGED = "threads:changed"
# Published once per committed batch of the group-commit writer: {"touched": [[module, threadId or
# None], ...]}, what the batch's mutations wrote (api/sync/subscriptions.py re-runs the queries
# that may have changed). One small event per batch, not one per message, to keep ingest lean.
SYNC_TOUCHED = "sync:touched"
# Published after a commit that queued webhook deliveries; the sender of whichever worker holds
# the sending lock hears it (through Redis from the others) and sends at once.
WEBHOOKS_QUEUED = "webhooks:queued"


def approval_topic(request_id: str) -> str:
    """The topic of one approval request's changes (approvalRequests:wait listens to it)."""
    return f"approval:{request_id}"
