"""webhooks:list/add/remove/test/deliveries: the endpoints the server notifies (admins only).

The URL rules, formats and signing live in api/webhooks.py; queuing in api/notifications.py;
delivery in api/webhook_sender.py (docs/webhooks.md).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from pydantic import Field, StringConstraints

from api.errors import FunctionError
from api.functions._common import Id, Result, ShortText, document, document_model
from api.notifications import queue_test
from api.registry import ADMINS, NULL, Args, Caller, Context, mutation, query
from api.services.audit import audit
from api.vocabulary import DELIVERED, FAILED, PENDING, DeliveryStatus
from api.webhooks import AddressRefused, EventType, Format, check_url, checked_address, new_secret
from models import WebhookDelivery, WebhookEndpoint
from models.ids import new_id

endpoints = WebhookEndpoint.__table__
deliveries = WebhookDelivery.__table__

Url = Annotated[str, StringConstraints(max_length=4000)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]

WebhookDoc = document_model(
    WebhookEndpoint,
    "WebhookEndpoint",
    format=Format,
    events=list[str],
    pending=(int, Field(default=0)),
    failed=(int, Field(default=0)),
    lastDeliveredTime=(float, Field(default=None)),
)
DeliveryDoc = document_model(
    WebhookDelivery,
    "WebhookDelivery",
    status=DeliveryStatus,
    data=dict[str, Any],
    endpointUrl=(str, Field(default=None)),
)
MANAGE = "manage webhooks"


class AddArgs(Args):
    url: Url
    format: Format = "standard"
    # The event types the endpoint receives; left out or null: all of them.
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=10)
    description: Description | None = None


class AddedWebhook(Result):
    webhookId: str
    secret: str


async def _check_add(args: AddArgs, _caller: Caller) -> None:
    """Before the write: the URL's shape, and (when private addresses are refused) what its
    host resolves to, looked up without blocking the loop or the writer."""
    url = check_url(args.url)
    try:
        await checked_address(url)
    except AddressRefused as exc:
        raise FunctionError(f"url: {exc}") from None


@mutation(
    "webhooks:add",
    args=AddArgs,
    returns=AddedWebhook,
    allow=ADMINS,
    prepare=_check_add,
    returns_secret=True,
)
def add(ctx: Context, args: AddArgs) -> dict[str, str]:
    """Registers an endpoint the server will POST notifications to (http(s) URLs only); answers
    {webhookId, secret}. `secret` (`whsec_...`) signs `standard` deliveries and is shown this
    once. `events` limits what it receives (default: every event)."""
    ctx.require_role(ADMINS, MANAGE)
    url = check_url(args.url)
    events = sorted(set(args.events)) if args.events is not None else None
    webhook_id = new_id("webhook_endpoints")
    secret = new_secret()
    ctx.conn.execute(
        sa.insert(endpoints).values(
            id=webhook_id,
            creation_time=ctx.now,
            url=url,
            format=args.format,
            events=events,
            description=args.description or None,
            secret=secret,
            created_by=ctx.caller.ref,
        )
    )
    # The audit log names the host only: a URL's path or query may be its credential (Slack's).
    audit(
        ctx,
        "webhook.add",
        webhook_id,
        {"after": {"host": _host(url), "format": args.format, "events": events}},
    )
    return {"webhookId": webhook_id, "secret": secret}


def _host(url: str) -> str:
    return urlsplit(url).netloc.rsplit("@", 1)[-1]


class ListArgs(Args):
    pass


@query("webhooks:list", args=ListArgs, returns=list[WebhookDoc], allow=ADMINS)
def list_webhooks(ctx: Context, _args: ListArgs) -> list[dict[str, Any]]:
    """Every endpoint, newest first, with how many deliveries are pending and failed and when
    the last one was delivered. The secret is never listed."""
    ctx.require_role(ADMINS, MANAGE)
    rows = ctx.conn.execute(sa.select(endpoints).order_by(endpoints.c.creation_time.desc()))
    docs = [document(WebhookEndpoint, row) for row in rows]
    if not docs:
        return docs
    counts = ctx.conn.execute(
        sa.select(
            deliveries.c.endpoint_id,
            deliveries.c.status,
            sa.func.count(),
            sa.func.max(deliveries.c.delivered_time),
        ).group_by(deliveries.c.endpoint_id, deliveries.c.status)
    ).all()
    by_endpoint: dict[str, dict[str, Any]] = {}
    for endpoint_id, status, count, delivered in counts:
        entry = by_endpoint.setdefault(endpoint_id, {})
        entry[status] = count
        if status == DELIVERED:
            entry["lastDeliveredTime"] = delivered
    for doc in docs:
        entry = by_endpoint.get(doc["_id"], {})
        doc["pending"] = entry.get(PENDING, 0)
        doc["failed"] = entry.get(FAILED, 0)
        if entry.get("lastDeliveredTime") is not None:
            doc["lastDeliveredTime"] = entry["lastDeliveredTime"]
    return docs


class WebhookArgs(Args):
    webhookId: Id


def _endpoint(ctx: Context, webhook_id: str) -> Any:
    ctx.require_id("webhook_endpoints", webhook_id, "webhookId")
    row = ctx.conn.execute(sa.select(endpoints).where(endpoints.c.id == webhook_id)).first()
    if row is None:
        raise FunctionError(f"Webhook {webhook_id} not found")
    return row


@mutation("webhooks:remove", args=WebhookArgs, returns=NULL, allow=ADMINS)
def remove(ctx: Context, args: WebhookArgs) -> None:
    """Removes the endpoint and its delivery log; nothing more is sent to it."""
    ctx.require_role(ADMINS, MANAGE)
    row = _endpoint(ctx, args.webhookId)
    ctx.conn.execute(sa.delete(deliveries).where(deliveries.c.endpoint_id == row.id))
    ctx.conn.execute(sa.delete(endpoints).where(endpoints.c.id == row.id))
    audit(ctx, "webhook.remove", row.id, {"before": {"host": _host(row.url), "format": row.format}})


class SendTestArgs(Args):
    webhookId: Id


@mutation("webhooks:test", args=SendTestArgs, returns=str, allow=ADMINS)
def send_test(ctx: Context, args: SendTestArgs) -> str:
    """Queues a `webhook.test` event for this endpoint alone; answers the delivery's id (its
    `webhook-id`), to look for in the delivery log."""
    ctx.require_role(ADMINS, MANAGE)
    row = _endpoint(ctx, args.webhookId)
    delivery_id = queue_test(ctx.conn, row.id, row.format)
    audit(ctx, "webhook.test", row.id, {"deliveryId": delivery_id})
    return delivery_id


class DeliveriesArgs(Args):
    webhookId: Id | None = None
    status: DeliveryStatus | None = None
    eventType: ShortText | None = None
    limit: int = Field(default=100, ge=1, le=500)


@query("webhooks:deliveries", args=DeliveriesArgs, returns=list[DeliveryDoc], allow=ADMINS)
def list_deliveries(ctx: Context, args: DeliveriesArgs) -> list[dict[str, Any]]:
    """The delivery log, newest first: each event for each endpoint with its status (`pending`,
    `delivered`, `failed`), attempts, last status code and error, and the next try. `body`
    is what was (or will be) posted."""
    ctx.require_role(ADMINS, MANAGE)
    where = []
    if args.webhookId is not None:
        ctx.require_id("webhook_endpoints", args.webhookId, "webhookId")
        where.append(deliveries.c.endpoint_id == args.webhookId)
    if args.status is not None:
        where.append(deliveries.c.status == args.status)
    if args.eventType is not None:
        where.append(deliveries.c.event_type == args.eventType)
    rows = ctx.conn.execute(
        sa.select(deliveries, endpoints.c.url.label("endpoint_url"))
        .join(endpoints, endpoints.c.id == deliveries.c.endpoint_id)
        .where(*where)
        .order_by(deliveries.c.creation_time.desc(), deliveries.c.id.desc())
        .limit(args.limit)
    ).all()
    result = []
    for row in rows:
        doc = document(WebhookDelivery, row)
        doc["endpointUrl"] = row.endpoint_url
        result.append(doc)
    return result
