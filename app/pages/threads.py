"""/threads: every agent run, newest first; search by title, filter by status, phase and user.
Keyset-paged through console:threads, so it stays fast however many threads there are."""

from __future__ import annotations

from typing import Any

import reflex as rx

from api.vocabulary import ACTIVE, ARCHIVED
from app.components.layout import add_signed_in, page_frame
from app.components.lists import data_table, filter_bar, filter_input, list_body
from app.components.ui import (
    choice,
    empty_state,
    muted,
    page_header,
    relative_time,
    status_badge,
)
from app.paging import PagedList
from app.routes import THREADS, thread_url
from app.rows import ThreadRow
from app.state import AuthState

STATUSES = ["any", ACTIVE, ARCHIVED]


class ThreadsState(PagedList, AuthState):
    rows: list[ThreadRow] = []
    search: str = ""
    status: str = "any"
    phase: str = ""
    user_id: str = ""

    @rx.var
    def filtered(self) -> bool:
        return bool(self.search or self.phase or self.user_id or self.status != "any")

    @rx.event
    def apply_filters(self, form_data: dict):
        self.search = str(form_data.get("search", "")).strip()[:200]
        self.phase = str(form_data.get("phase", "")).strip()[:200]
        self.user_id = str(form_data.get("user", "")).strip()[:200]
        return ThreadsState.load

    @rx.event
    def set_status(self, status: str):
        self.status = status if status in STATUSES else "any"
        return ThreadsState.load

    @rx.event
    def clear_filters(self):
        self.search, self.phase, self.user_id, self.status = "", "", "", "any"
        self.form_key += 1
        return ThreadsState.load

    def _filter_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for key, value in (
            ("search", self.search),
            ("phase", self.phase),
            ("userId", self.user_id),
        ):
            if value:
                args[key] = value
        if self.status != "any":
            args["status"] = self.status
        return args

    async def _page(self, args: dict[str, Any]):
        result = await self._call("console:threads", args)
        return result, [ThreadRow.of(doc) for doc in result["page"]]


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(
                rx.cond(row.title != "", row.title, "(untitled)"),
                href=thread_url(row._id),
                weight="medium",
            ),
            muted(row._id, class_name="mono"),
        ),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(
            rx.cond(
                row.phase != "",
                rx.badge(row.phase, variant="outline"),
                rx.text("—", color_scheme="gray"),
            )
        ),
        rx.table.cell(rx.text(row.userId, size="2", class_name="mono")),
        rx.table.cell(relative_time(row.updatedTimeIso)),
        data_thread_row=row._id,
    )


def threads_page() -> rx.Component:
    filters = filter_bar(
        filter_input("search", "Search titles", "Search titles…", ThreadsState.search, "16em"),
        choice(STATUSES, ThreadsState.status, ThreadsState.set_status, "Status"),
        filter_input("phase", "Phase", "Phase (e.g. executing)", ThreadsState.phase),
        filter_input("user", "User", "User id", ThreadsState.user_id),
        on_submit=ThreadsState.apply_filters,
        state=ThreadsState,
        on_clear=ThreadsState.clear_filters,
        margin_bottom="1em",
    )
    table = data_table(["Thread", "Status", "Phase", "User", "Updated"], ThreadsState.rows, _row)
    empty = empty_state(
        "No threads yet",
        rx.text("Backends create them with ", rx.code("threads:create"), ".", color_scheme="gray"),
        icon="messages-square",
    )
    return page_frame(
        page_header("Threads", subtitle="Every agent run, newest first."),
        filters,
        *list_body(
            ThreadsState,
            table,
            empty,
            no_match="No thread matches",
        ),
    )


def add(app: rx.App) -> None:
    add_signed_in(app, threads_page, THREADS, "Threads", ThreadsState.load)
