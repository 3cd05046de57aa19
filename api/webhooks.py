"""Webhook endpoints: the URL rules, the signing secret and what is posted in each format.

Shared by the `webhooks:*` functions (api/functions/webhooks.py), `notify` (api/notifications.py)
and the sender (api/webhook_sender.py); see docs/webhooks.md.

- `standard` follows Standard Webhooks (https://www.standardwebhooks.com): the body
  `{"type", "timestamp", "data"}` and the headers `webhook-id`, `webhook-timestamp` and
  `webhook-signature: v1,<base64 HMAC-SHA256>`, signed with the maintained `standardwebhooks`
  package; the secret is `whsec_<base64 of 32 random bytes>`.
- `slack` posts `{"text", "blocks"}` for a Slack incoming webhook (the URL is its secret).

URLs: http(s) only. With WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=false, a URL whose host is or
resolves to a non-public address (private, loopback, link-local, ...) is refused when it is added
and again before every send, and the send then connects to the address that was checked (so a
DNS answer that changes in between cannot point it elsewhere).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import os
import socket
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from api.errors import FunctionError
from api.settings import get_settings
from api.vocabulary import APPROVED, CANCELLED, CHANGES_REQUESTED, EXPIRED, PENDING, REJECTED

EVENT_TYPES = (
    "approval.requested",
    "approval.decided",
    "approval.expired",
    "toolCall.outsidePlan",
)
# What "Send test event" posts; not something endpoints subscribe to.
TEST_EVENT = "webhook.test"
FORMATS = ("standard", "slack")
Format = Literal["standard", "slack"]
EventType = Literal[
    "approval.requested", "approval.decided", "approval.expired", "toolCall.outsidePlan"
]
MAX_URL = 2000
SECRET_PREFIX = "whsec_"


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address this deployment does not call."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def check_url(url: str) -> str:
    """The URL, stripped, if it is an absolute http(s) URL with a host; else a clear error."""
    url = url.strip()
    if not url:
        raise FunctionError("url: give the endpoint's URL, e.g. https://example.com/hooks")
    if len(url) > MAX_URL:
        raise FunctionError(f"url: at most {MAX_URL} characters")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise FunctionError("url: must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FunctionError(f"url: not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FunctionError("url: only http:// and https:// URLs are accepted")
    if not parts.hostname:
        raise FunctionError("url: the URL has no host")
    if port == 0:
        raise FunctionError("url: port 0 is not a port a server listens on")
    return url


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (not private, loopback, link-local,
    multicast, reserved, shared or unspecified; IPv4-mapped IPv6 is judged by its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def resolve(url: str) -> list[str]:
    """The addresses the URL's host stands for (without blocking the event loop)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"the host {host} does not resolve ({exc})") from None
    return list(dict.fromkeys(info[4][0] for info in infos))


async def checked_address(url: str) -> str | None:
    """With private addresses refused: the (public) address to connect to, or AddressRefused.
    With them allowed: None (connect as the URL says)."""
    if get_settings().webhooks_allow_private_addresses:
        return None
    addresses = await resolve(url)
    refused = [address for address in addresses if not is_public(address)]
    if refused or not addresses:
        host = urlsplit(url).hostname
        raise AddressRefused(
            f"{host} resolves to {', '.join(refused) or 'nothing'}, a non-public address, "
            "and this server refuses those (WEBHOOKS_ALLOW_PRIVATE_ADDRESSES=false)"
        )
    return addresses[0]


def iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def body_for(fmt: str, event_type: str, data: dict[str, Any], time_ms: float) -> str:
    """The exact text posted for this event in this format (the same on every retry)."""
    if fmt == "slack":
        message = slack_message(event_type, data)
    else:
        message = {"type": event_type, "timestamp": iso(time_ms), "data": data}
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


# What each event says in Slack; the link text is the request or call it is about.
_SLACK_TITLES = {
    "approval.requested": "A plan is waiting for approval",
    "approval.decided": "An approval request was decided",
    "approval.expired": "An approval request expired without a decision",
    "toolCall.outsidePlan": "A tool call ran outside the approved plan",
    TEST_EVENT: "Test event from Threadline",
}
_STATUS_WORDS = {
    APPROVED: "approved",
    REJECTED: "rejected",
    CHANGES_REQUESTED: "changes requested",
    CANCELLED: "cancelled by the backend",
    EXPIRED: "expired",
    PENDING: "pending",
}


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn control characters; agent-written text must not make links or mentions.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: a readable line with the deep link, and blocks."""
    title = _SLACK_TITLES.get(event_type, event_type)
    status = data.get("status")
    if event_type == "approval.decided" and isinstance(status, str):
        title = f"Approval request {_STATUS_WORDS.get(status, status)}"
    subject = next(
        (
            str(data[key])
            for key in ("approvalRequestId", "toolCallId", "webhookId")
            if isinstance(data.get(key), str)
        ),
        "",
    )
    url = data.get("url")
    details = [
        f"{label}: `{_slack_escape(str(data[key]))}`"
        for key, label in (
            ("threadId", "thread"),
            ("toolName", "tool"),
            ("status", "status"),
        )
        if data.get(key) is not None
    ]
    text = title + (f" — {subject}" if subject else "")
    if isinstance(url, str):
        text += f"\nOpen: {url}"
    link = f"<{url}|{_slack_escape(subject or 'Open in Threadline')}>" if url else subject
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{link}"}}
    ]
    if details:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(details)}]}
        )
    if isinstance(url, str):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in Threadline"},
                        "url": url,
                    }
                ],
            }
        )
    return {"text": text, "blocks": blocks}


def signed_headers(secret: str, message_id: str, timestamp_s: int, body: str) -> dict[str, str]:
    """Standard Webhooks' three headers for one attempt."""
    moment = datetime.fromtimestamp(timestamp_s, tz=UTC)
    signature = Webhook(secret).sign(message_id, moment, body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp_s),
        "webhook-signature": signature,
    }
