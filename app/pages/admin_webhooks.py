"""/admin/webhooks (admins): the endpoints the server notifies, and their delivery log.

Add an endpoint (its signing secret is shown once, in this tab, until dismissed), send it a test
event, remove it; the log lists each delivery with its status, attempts, last error and next
try. Everything goes through the webhooks:* functions (api/functions/webhooks.py), which check
the caller's role again.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from api.webhooks import EVENT_TYPES
from app.admin_page import AdminPage
from app.components.layout import add_admin_page
from app.components.lists import data_table, icon_button, listing_or_empty
from app.components.ui import (
    confirm_dialog,
    empty_state,
    inline,
    muted,
    page_header,
    shown_once,
    soft_button,
)
from app.routes import ADMIN_WEBHOOKS
from app.rows import DeliveryRow, EndpointRow
from app.state import AuthState

LOG_LIMIT = 100


class AdminWebhooksState(AdminPage, AuthState):
    endpoints: list[EndpointRow] = []
    deliveries: list[DeliveryRow] = []
    adding: bool = False
    new_secret: str = ""
    new_secret_url: str = ""
    add_format: str = "standard"

    def _opened(self) -> None:
        self.new_secret, self.new_secret_url = "", ""

    async def _lists(self) -> None:
        endpoints = await self._admin_call("webhooks:list", {})
        deliveries = await self._admin_call("webhooks:deliveries", {"limit": LOG_LIMIT})
        self.endpoints = [EndpointRow.of(doc) for doc in endpoints]
        self.deliveries = [DeliveryRow.of(doc) for doc in deliveries]

    @rx.event
    def set_add_format(self, value: str):
        if value in ("standard", "slack"):
            self.add_format = value

    @rx.event
    async def add(self, form_data: dict):
        url = str(form_data.get("url", "")).strip()
        if not url:
            yield rx.toast.error("Give the endpoint's URL (http:// or https://).")
            return
        args: dict[str, Any] = {"url": url, "format": self.add_format}
        chosen = [event for event in EVENT_TYPES if form_data.get(_field(event))]
        if chosen and len(chosen) < len(EVENT_TYPES):
            args["events"] = chosen
        description = str(form_data.get("description", "")).strip()
        if description:
            args["description"] = description
        self.adding = True
        yield
        async with self._caught("adding") as failed:
            created = await self._admin_call("webhooks:add", args)
        if failed:
            yield failed.event
            return
        self.new_secret, self.new_secret_url = created["secret"], url
        self.form_key += 1
        self.add_format = "standard"
        yield AdminWebhooksState.refresh

    @rx.event
    def dismiss_secret(self):
        self.new_secret, self.new_secret_url = "", ""

    @rx.event
    async def send_test(self, webhook_id: str):
        done = "Test event queued; it shows in the delivery log below."
        async for event in self._change("webhooks:test", {"webhookId": webhook_id}, done):
            yield event

    @rx.event
    def ask_remove(self, webhook_id: str, url: str):
        self._ask(webhook_id, url)

    @rx.event
    async def remove(self):
        done = "Removed; nothing more is sent to it."
        async for event in self._confirmed("webhooks:remove", {"webhookId": self.confirm_id}, done):
            yield event


def _field(event_type: str) -> str:
    return "event_" + event_type.replace(".", "_")


def _endpoint_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(row.url, size="2", class_name="mono", word_break="break-all"),
                rx.cond(
                    row.description != "",
                    muted(row.description),
                ),
                spacing="1",
            ),
            min_width="16em",
            data_testid="webhook-url",
        ),
        rx.table.cell(rx.badge(row.format, variant="soft", color_scheme="gray")),
        rx.table.cell(rx.text(row.events, size="1")),
        rx.table.cell(
            inline(
                rx.cond(
                    row.pending > 0,
                    rx.badge(row.pending.to(str) + " pending", color_scheme="amber"),
                ),
                rx.cond(
                    row.failed > 0,
                    rx.badge(row.failed.to(str) + " failed", color_scheme="red"),
                ),
                rx.text("last delivered " + row.lastDeliveredText, size="1"),
                wrap="wrap",
            )
        ),
        rx.table.cell(
            rx.flex(
                icon_button(
                    "send",
                    "Send test",
                    size="1",
                    variant="soft",
                    on_click=AdminWebhooksState.send_test(row._id),
                    data_testid="send-test",
                ),
                soft_button(
                    "Remove",
                    size="1",
                    color_scheme="red",
                    on_click=AdminWebhooksState.ask_remove(row._id, row.url),
                    data_testid="remove",
                ),
                spacing="2",
                wrap="wrap",
            )
        ),
        data_testid="webhook-row",
    )


def _delivery_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.createdText, size="1"), min_width="8em"),
        rx.table.cell(rx.code(row.eventType, variant="ghost")),
        rx.table.cell(
            rx.text(row.endpointUrl, size="1", class_name="mono", word_break="break-all"),
            min_width="12em",
        ),
        rx.table.cell(
            rx.badge(row.status, color_scheme=row.color, variant="soft"),
            data_testid="delivery-status",
        ),
        rx.table.cell(rx.text(row.attempts.to(str), size="2"), data_testid="delivery-attempts"),
        rx.table.cell(
            rx.text(row.lastResult, size="1", word_break="break-word"),
            data_testid="delivery-result",
        ),
        rx.table.cell(rx.text(row.nextTry, size="1"), data_testid="delivery-next"),
        rx.table.cell(rx.code(row._id, variant="ghost", size="1"), title="webhook-id"),
        data_testid="delivery-row",
    )


def _add_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            inline(
                rx.input(
                    name="url",
                    placeholder="https://hooks.example.com/threadline",
                    required=True,
                    max_length=2000,
                    width="100%",
                    max_width="28em",
                    aria_label="Endpoint URL",
                ),
                rx.select.root(
                    rx.select.trigger(aria_label="Format", data_testid="webhook-format"),
                    rx.select.content(
                        rx.select.item("Standard Webhooks (signed)", value="standard"),
                        rx.select.item("Slack incoming webhook", value="slack"),
                    ),
                    value=AdminWebhooksState.add_format,
                    on_change=AdminWebhooksState.set_add_format,
                ),
                rx.input(
                    name="description",
                    placeholder="What it is for (optional)",
                    max_length=200,
                    width="100%",
                    max_width="16em",
                    aria_label="Description",
                ),
                wrap="wrap",
            ),
            inline(
                rx.text("Events (none ticked: all):", size="2"),
                *[
                    rx.el.label(
                        inline(
                            rx.checkbox(name=_field(event)),
                            rx.code(event, variant="ghost"),
                            spacing="1",
                        )
                    )
                    for event in EVENT_TYPES
                ],
                spacing="3",
                wrap="wrap",
            ),
            icon_button("plus", "Add endpoint", type="submit", loading=AdminWebhooksState.adding),
            spacing="2",
            width="100%",
        ),
        on_submit=AdminWebhooksState.add,
        key=AdminWebhooksState.form_key,
        width="100%",
        margin_bottom="1em",
        data_testid="add-webhook",
    )


def _content() -> rx.Component:
    endpoints = data_table(
        ["URL", "Format", "Events", "Deliveries", ""],
        AdminWebhooksState.endpoints,
        _endpoint_row,
        data_testid="webhooks-table",
    )
    log = data_table(
        ["Queued", "Event", "Endpoint", "Status", "Attempts", "Last result", "Next try", "Id"],
        AdminWebhooksState.deliveries,
        _delivery_row,
        data_testid="deliveries-table",
    )
    return rx.fragment(
        page_header(
            "Webhooks",
            icon_button(
                "refresh-cw",
                "Refresh",
                variant="soft",
                on_click=AdminWebhooksState.refresh,
                loading=AdminWebhooksState.loading,
                data_testid="refresh",
            ),
            subtitle="The server POSTs approval requests, decisions and expiries to these URLs.",
        ),
        shown_once(
            "Copy the signing secret now: it will not be shown again",
            AdminWebhooksState.new_secret,
            "Endpoint " + AdminWebhooksState.new_secret_url + ". The receiver verifies "
            "each delivery's webhook-signature with it (Standard Webhooks); Slack ignores it.",
            AdminWebhooksState.dismiss_secret,
            "new-secret",
        ),
        _add_form(),
        listing_or_empty(
            AdminWebhooksState.endpoints,
            AdminWebhooksState.loading,
            endpoints,
            empty_state(
                "No webhook endpoints yet",
                "Add one to hear of new approval requests without watching the inbox.",
                "webhook",
            ),
        ),
        rx.heading("Delivery log", size="4", margin_top="1.5em", margin_bottom="0.5em"),
        rx.cond(
            AdminWebhooksState.deliveries.length() > 0,
            log,
            rx.text("Nothing sent yet.", size="2", color_scheme="gray"),
        ),
        confirm_dialog(
            AdminWebhooksState.confirm_open,
            "Remove " + AdminWebhooksState.confirm_name + "?",
            "Nothing more is sent to it, and its delivery log goes with it.",
            "Remove",
            AdminWebhooksState.remove,
            AdminWebhooksState.cancel_confirm,
            "confirm-remove",
        ),
    )


def add(app: rx.App) -> None:
    add_admin_page(app, AdminWebhooksState, _content, ADMIN_WEBHOOKS, "Webhooks")
