"""Webhook notifications: the one call that mutations make to notify admins' endpoints.

`notify` is called inside a mutation's transaction (the same connection or `Session` the change
is written with), so the notification commits or rolls back with the change: it writes one
outbox row (`webhook_deliveries`) per endpoint subscribed to the event, and nothing else. Delivery
happens later, after commit, from the outbox (api/webhook_sender.py), so it never delays the
mutation. After a commit that queued rows, the group-commit writer publishes WEBHOOKS_QUEUED
(api/vocabulary.py), which wakes the sender at once (a periodic poll catches anything else).

Event types: approval.requested, approval.decided, approval.expired, toolCall.outsidePlan.
Only the approval functions call it (never the messages:create hot path): one SELECT of the
endpoints, and one INSERT when any endpoint wants the event.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from api.settings import get_settings
from api.vocabulary import PENDING
from api.webhooks import EVENT_TYPES, TEST_EVENT, body_for
from models import WebhookDelivery, WebhookEndpoint
from models.ids import new_id

__all__ = ["EVENT_TYPES", "notify", "queue_test", "take_queued"]

endpoints = WebhookEndpoint.__table__
deliveries = WebhookDelivery.__table__
# Set on the connection's info by notify; the writer takes it after the mutation (take_queued).
_QUEUED_FLAG = "threadline.webhooks_queued"


def notify(session: Session | Connection, event_type: str, data: dict[str, Any], link: str) -> None:
    """Queue `event_type` for every endpoint subscribed to it, in `session`'s transaction.

    `data` holds the ids and status of what changed (e.g. {"approvalRequestId", "threadId",
    "status"}); `link` is the console path a person should open ("/approvals/apr_..."), turned
    into the deep link `data["url"]` with the PUBLIC_URL setting.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown notification type {event_type!r}")
    rows = session.execute(sa.select(endpoints.c.id, endpoints.c.format, endpoints.c.events)).all()
    targets = [row for row in rows if row.events is None or event_type in row.events]
    if targets:
        _queue(session, event_type, data, link, targets)


def queue_test(session: Session | Connection, endpoint_id: str, fmt: str) -> str:
    """Queue the test event for one endpoint (webhooks:test); answers the delivery's id."""
    data = {"webhookId": endpoint_id, "status": "test"}
    return _queue(session, TEST_EVENT, data, "/admin/webhooks", [(endpoint_id, fmt)])[0]


def _queue(session, event_type: str, data: dict[str, Any], link: str, targets) -> list[str]:
    now = time.time() * 1000.0
    data = {**data, "url": get_settings().console_url + link}
    values = []
    for endpoint_id, fmt, *_ in targets:
        values.append(
            {
                "id": new_id("webhook_deliveries"),
                "creation_time": now,
                "endpoint_id": endpoint_id,
                "event_type": event_type,
                "body": body_for(fmt, event_type, data, now),
                "status": PENDING,
                "attempts": 0,
                "next_attempt_time": now,
                "data": data,
            }
        )
    session.execute(sa.insert(deliveries), values)
    info = getattr(session, "info", None)
    if info is not None:
        info[_QUEUED_FLAG] = True
    return [value["id"] for value in values]


def take_queued(conn: Connection) -> bool:
    """True (once) if a notify on this connection queued deliveries since the last call."""
    return bool(conn.info.pop(_QUEUED_FLAG, False))
