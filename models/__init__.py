"""Every table, imported here so `SQLModel.metadata` (and so Alembic) sees them all."""

from models.accounts import (
    ROLES,
    ApiKey,
    AuditEntry,
    AuthSession,
    IdempotencyRecord,
    OneTimeLink,
    RefreshToken,
    ServerSecret,
    User,
)
from models.threads import (
    ApprovalRequest,
    Artifact,
    ArtifactVersion,
    Message,
    Session,
    Thread,
    ToolCall,
)
from models.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "ROLES",
    "ApiKey",
    "ApprovalRequest",
    "Artifact",
    "ArtifactVersion",
    "AuditEntry",
    "AuthSession",
    "IdempotencyRecord",
    "Message",
    "OneTimeLink",
    "RefreshToken",
    "ServerSecret",
    "Session",
    "Thread",
    "ToolCall",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
