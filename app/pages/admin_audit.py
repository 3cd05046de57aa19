"""/admin/audit (admins): the append-only audit log, newest first, filtered by actor, action,
target and time range (UTC), keyset-paged. Details are shown as JSON text, never as HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import reflex as rx

from app.components.layout import add_admin_page
from app.components.lists import filter_bar, filter_input, list_body, submit_button
from app.components.ui import (
    empty_state,
    inline,
    muted,
    page_header,
    relative_time,
)
from app.paging import PagedList
from app.routes import ADMIN_AUDIT
from app.rows import AuditRow
from app.state import AuthState

ANY_ACTION = "any action"
ACTIONS = [
    "signin.success",
    "signin.failure",
    "signout",
    "setup.complete",
    "user.create",
    "user.role",
    "user.disable",
    "user.enable",
    "user.password",
    "user.password_link",
    "user.reset_password",
    "user.set_password",
    "session.revoke",
    "session.revoke_others",
    "apikey.create",
    "apikey.revoke",
    "approval.decide",
    "artifact.status",
]
# Enough to name every person on a team's instance; other targets are shown as their ids.
NAME_LOOKUP_LIMIT = 1000
TIME_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends


def utc_ms(value: str) -> float | None:
    """A datetime-local value read as UTC, in ms; None if empty or malformed."""
    try:
        return (
            datetime.strptime(value.strip()[:16], TIME_FORMAT).replace(tzinfo=UTC).timestamp()
            * 1000
        )
    except ValueError:
        return None


class AdminAuditState(PagedList, AuthState):
    rows: list[AuditRow] = []
    denied: bool = False
    actor: str = ""
    action: str = ANY_ACTION
    target: str = ""
    since: str = ""
    until: str = ""

    @rx.var
    def filtered(self) -> bool:
        return bool(
            self.actor or self.target or self.since or self.until or self.action != ANY_ACTION
        )

    @rx.event
    def apply_filters(self, form_data: dict):
        self.actor = str(form_data.get("actor", "")).strip()[:200]
        self.target = str(form_data.get("target", "")).strip()[:200]
        self.since = str(form_data.get("since", "")).strip()[:16]
        self.until = str(form_data.get("until", "")).strip()[:16]
        return AdminAuditState.load

    @rx.event
    def set_action(self, value: str):
        self.action = value if value in ACTIONS else ANY_ACTION
        return AdminAuditState.load

    @rx.event
    def clear_filters(self):
        self.actor = self.target = self.since = self.until = ""
        self.action = ANY_ACTION
        self.form_key += 1
        return AdminAuditState.load

    async def _target_names(self, entries: list[dict[str, Any]]) -> dict[str, str]:
        """People's emails and keys' names for the ids the entries target (one list each)."""
        targets = {entry.get("target") or "" for entry in entries}
        names: dict[str, str] = {}
        if any(target.startswith("usr_") for target in targets):
            people = await self._admin_call(
                "users:list", {"paginationOpts": {"numItems": NAME_LOOKUP_LIMIT, "cursor": None}}
            )
            names.update({person["_id"]: person["email"] for person in people["page"]})
        if any(target.startswith("key_") for target in targets):
            keys = await self._admin_call("apiKeys:list", {})
            names.update({key["_id"]: f"key {key['name']}" for key in keys})
        return names

    def _filter_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.actor:
            args["actor"] = self.actor
        if self.action in ACTIONS:
            args["action"] = self.action
        if self.target:
            args["target"] = self.target
        if (since := utc_ms(self.since)) is not None:
            args["since"] = since
        if (until := utc_ms(self.until)) is not None:
            args["until"] = until + 60_000  # the whole minute chosen
        return args

    async def _page(self, args: dict[str, Any]):
        result = await self._admin_call("auditLog:list", args)
        names = await self._target_names(result["page"])
        self.denied = False
        return result, [AuditRow.of(entry, names) for entry in result["page"]]


def _entry(entry: rx.Var) -> rx.Component:
    return rx.box(
        inline(
            rx.badge(entry.action, variant="soft", data_testid="audit-action"),
            rx.text(entry.actorLabel, size="2", weight="medium", title=entry.actor),
            rx.cond(
                entry.targetLabel != "",
                rx.text(
                    "→ ",
                    entry.targetLabel,
                    size="2",
                    title=entry.target,
                    class_name="audit-target",
                ),
            ),
            rx.spacer(),
            muted(entry.createdText, " · ", relative_time(entry.createdIso)),
            wrap="wrap",
            width="100%",
        ),
        rx.cond(
            entry.detailsText != "",
            rx.el.pre(entry.detailsText, class_name="json-block audit-details"),
        ),
        class_name="audit-entry",
        data_testid="audit-entry",
        data_action=entry.action,
    )


def _filters() -> rx.Component:
    return filter_bar(
        filter_input(
            "actor",
            "Actor",
            "Actor (email or ref)",
            AdminAuditState.actor,
            "14em",
            max_width="100%",
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Action", title="Action", data_testid="action-filter"),
            # Action names exactly as stored (choice() would show "_" as spaces).
            rx.select.content(
                *[rx.select.item(action, value=action) for action in [ANY_ACTION, *ACTIONS]]
            ),
            value=AdminAuditState.action,
            on_change=AdminAuditState.set_action,
        ),
        filter_input(
            "target",
            "Target",
            "Target (id or email)",
            AdminAuditState.target,
            "14em",
            max_width="100%",
        ),
        inline(
            muted("From"),
            filter_input(
                "since", "From (UTC)", "", AdminAuditState.since, None, type="datetime-local"
            ),
            muted("to"),
            filter_input(
                "until", "Until (UTC)", "", AdminAuditState.until, None, type="datetime-local"
            ),
            muted("UTC"),
            wrap="wrap",
        ),
        on_submit=AdminAuditState.apply_filters,
        state=AdminAuditState,
        on_clear=AdminAuditState.clear_filters,
        submit=submit_button("filter", "Filter"),
        margin_bottom="1em",
    )


def _content() -> rx.Component:
    table = rx.vstack(
        rx.foreach(AdminAuditState.rows, _entry),
        spacing="2",
        width="100%",
        data_testid="audit-list",
    )
    return rx.fragment(
        page_header(
            "Audit log",
            subtitle="Who did what, newest first. Entries are never changed or deleted.",
        ),
        _filters(),
        *list_body(
            AdminAuditState,
            table,
            empty_state("No entries yet", "Sign-ins and admin actions appear here.", "scroll-text"),
            no_match="No entry matches",
        ),
    )


def add(app: rx.App) -> None:
    add_admin_page(app, AdminAuditState, _content, ADMIN_AUDIT, "Audit log")
