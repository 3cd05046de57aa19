"""Webhook endpoints and the notification outbox (which is also the delivery log).

`webhook_deliveries` holds one row per endpoint and event, written in the same transaction as
the change it reports (api/notifications.py). The sender (api/webhooks.py) posts each row's
`body` until the endpoint answers 2xx or the retry window ends; the row keeps the delivery's
state for the admins' log: status, attempts, the last error, the next try.
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import JSONType


class WebhookEndpoint(SQLModel, table=True):
    """A URL the server posts notifications to. `secret` is the Standard Webhooks signing secret
    (`whsec_<base64 key>`): kept as it is, since signing needs the key itself (docs/security.md
    says what that means), and never returned after it was shown once."""

    __tablename__ = "webhook_endpoints"
    __hidden__: ClassVar[frozenset[str]] = frozenset({"secret"})

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    url: str = Field(max_length=2000)
    format: str = Field(max_length=20)  # standard | slack
    # The event types it receives; null: all of them.
    events: list[str] | None = Field(default=None, sa_type=JSONType)
    description: str | None = Field(default=None, max_length=200)
    secret: str = Field(max_length=100)
    created_by: str | None = Field(default=None, max_length=60)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: the outbox row, then its delivery record. Its id is the
    `webhook-id` header, the same on every retry."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The sender's scan: pending rows whose next try is due.
        sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_time"),
        sa.Index("ix_webhook_deliveries_endpoint", "endpoint_id", "creation_time"),
    )

    id: str = Field(primary_key=True, max_length=40)
    creation_time: float
    endpoint_id: str = Field(
        sa_column_args=[sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE")],
        max_length=40,
    )
    event_type: str = Field(max_length=60)
    # What is posted, byte for byte the same on every try (the signature covers it).
    body: str = Field(sa_type=sa.Text)
    status: str = Field(max_length=20)  # pending | delivered | failed
    attempts: int = 0
    next_attempt_time: float | None = None  # ms since the epoch; null once settled
    last_attempt_time: float | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_time: float | None = None
    data: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
