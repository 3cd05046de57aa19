"""Webhook notifications: the one call that mutations make to notify admins' endpoints.

`notify` is called inside a mutation's transaction (the same `Session` the change is written
with), so the notification commits or rolls back with the change. Delivery happens later, after
commit, from the outbox (see the webhooks sender).

Event types: approval.requested, approval.decided, approval.expired, toolCall.outsidePlan.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

EVENT_TYPES = (
    "approval.requested",
    "approval.decided",
    "approval.expired",
    "toolCall.outsidePlan",
)


def notify(session: Session, event_type: str, data: dict[str, Any], link: str) -> None:
    """Queue `event_type` for every endpoint subscribed to it, in `session`'s transaction.

    `data` holds the ids and status of what changed (e.g. {"approvalRequestId", "threadId",
    "status"}); `link` is the console path a person should open ("/approvals/apr_..."), turned
    into the deep link `data["url"]` with the PUBLIC_URL setting.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown notification type {event_type!r}")
    # The outbox is written here once the webhooks tables exist (migration 0011).
    return None
