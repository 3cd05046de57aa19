"""/admin/keys (admins): API keys for agent backends. A new key is shown once, in this tab,
until dismissed (only its hash is stored); revoking one takes effect at once."""

from __future__ import annotations

import reflex as rx

from app.admin_page import AdminPage
from app.components.layout import add_admin_page
from app.components.lists import data_table, icon_button, inline_form, listing_or_empty
from app.components.ui import (
    confirm_dialog,
    empty_state,
    inline,
    muted,
    page_header,
    shown_once,
    soft_button,
)
from app.routes import ADMIN_KEYS
from app.rows import KeyRow
from app.state import AuthState


class AdminKeysState(AdminPage, AuthState):
    keys: list[KeyRow] = []
    creating: bool = False
    new_key: str = ""
    new_key_name: str = ""

    def _opened(self) -> None:
        self.new_key, self.new_key_name = "", ""

    async def _lists(self) -> None:
        keys = await self._admin_call("apiKeys:list", {})
        self.keys = [KeyRow.of(key) for key in keys]

    @rx.event
    async def create(self, form_data: dict):
        name = str(form_data.get("name", "")).strip()
        if not name:
            yield rx.toast.error("Give the key a name (which backend uses it).")
            return
        self.creating = True
        yield
        async with self._caught("creating") as failed:
            created = await self._admin_call("apiKeys:create", {"name": name})
        if failed:
            yield failed.event
            return
        self.new_key, self.new_key_name = created["key"], name
        self.form_key += 1
        yield AdminKeysState.refresh

    @rx.event
    def dismiss_key(self):
        self.new_key, self.new_key_name = "", ""

    @rx.event
    def ask_revoke(self, key_id: str, name: str):
        self._ask(key_id, name)

    @rx.event
    async def revoke(self):
        done = f"Revoked {self.confirm_name}; it no longer works."
        async for event in self._confirmed("apiKeys:revoke", {"apiKeyId": self.confirm_id}, done):
            yield event


def _row(key: rx.Var) -> rx.Component:
    revoked = key.revoked
    return rx.table.row(
        rx.table.cell(rx.text(key.name, weight="medium", size="2")),
        rx.table.cell(rx.code(key.prefix + "…", variant="ghost")),
        rx.table.cell(
            inline(
                rx.text(key.creator, size="2"),
                # Keys outlive their creator's account: flag the ones to review.
                rx.cond(
                    key.creatorDisabled,
                    rx.badge(
                        "creator disabled",
                        color_scheme="amber",
                        variant="soft",
                        title="This key still works; revoke it if its backend is not needed",
                    ),
                ),
                wrap="wrap",
            ),
            data_testid="key-creator",
        ),
        rx.table.cell(rx.text(key.createdText, size="1")),
        rx.table.cell(rx.text(key.lastUsedText, size="1")),
        rx.table.cell(
            rx.cond(
                revoked,
                rx.badge("revoked", color_scheme="red", variant="soft", title=key.revokedText),
                rx.badge("active", color_scheme="green", variant="soft"),
            ),
            data_testid="key-status",
        ),
        rx.table.cell(
            rx.cond(
                revoked,
                muted(key.revokedText),
                soft_button(
                    "Revoke",
                    size="1",
                    color_scheme="red",
                    on_click=AdminKeysState.ask_revoke(key._id, key.name),
                    data_testid="revoke",
                ),
            )
        ),
        data_testid="key-row",
        data_prefix=key.prefix,
    )


def _content() -> rx.Component:
    create = inline_form(
        rx.input(
            name="name",
            placeholder="Key name, e.g. planner backend",
            required=True,
            max_length=200,
            width="20em",
            max_width="100%",
            aria_label="Key name",
        ),
        icon_button("plus", "Create key", type="submit", loading=AdminKeysState.creating),
        on_submit=AdminKeysState.create,
        form_key=AdminKeysState.form_key,
        margin_bottom="1em",
        data_testid="create-key",
    )
    table = data_table(
        ["Name", "Prefix", "Created by", "Created", "Last used", "Status", ""],
        AdminKeysState.keys,
        _row,
        data_testid="keys-table",
    )
    return rx.fragment(
        page_header(
            "API keys",
            subtitle="Agent backends send one as Authorization: Bearer <key>.",
        ),
        shown_once(
            "Copy the new key now: it will not be shown again",
            AdminKeysState.new_key,
            "Key “" + AdminKeysState.new_key_name + "”. Only its hash is stored; if it is "
            "lost, create another and revoke this one.",
            AdminKeysState.dismiss_key,
            "new-key",
        ),
        create,
        listing_or_empty(
            AdminKeysState.keys,
            AdminKeysState.loading,
            table,
            empty_state("No API keys yet", "Create one for each backend.", "key-round"),
        ),
        confirm_dialog(
            AdminKeysState.confirm_open,
            "Revoke " + AdminKeysState.confirm_name + "?",
            "Requests with this key are refused from now on. This cannot be undone.",
            "Revoke",
            AdminKeysState.revoke,
            AdminKeysState.cancel_confirm,
            "confirm-revoke",
        ),
    )


def add(app: rx.App) -> None:
    add_admin_page(app, AdminKeysState, _content, ADMIN_KEYS, "API keys")
