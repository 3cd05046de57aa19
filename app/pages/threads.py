"""/threads: every agent run, newest first; search by title, filter by status, phase and user.
Keyset-paged through console:threads, so it stays fast however many threads there are."""

from __future__ import annotations

from typing import Any

import reflex as rx

from app.components.layout import page_frame, signed_in_page
from app.components.ui import (
    choice,
    empty_state,
    loading_block,
    page_header,
    relative_time,
    status_badge,
)
from app.formatting import with_times
from app.state import AuthState

PAGE_SIZE = 50
STATUSES = ["any", "active", "archived"]


class ThreadsState(AuthState):
    rows: list[dict[str, Any]] = []
    cursor: str = ""
    done: bool = True
    loading: bool = False
    search: str = ""
    status: str = "any"
    phase: str = ""
    user_id: str = ""
    # Bumped by "Clear" so the filter form remounts with empty fields.
    form_key: int = 0

    @rx.var
    def filtered(self) -> bool:
        return bool(self.search or self.phase or self.user_id or self.status != "any")

    @rx.event
    async def load(self):
        self.rows, self.cursor = [], ""
        async for event in self._fetch():
            yield event

    @rx.event
    async def more(self):
        async for event in self._fetch():
            yield event

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

    async def _fetch(self):
        if self._caller() is None:
            yield self._to_signin()
            return
        self.loading = True
        yield
        args: dict[str, Any] = {
            "paginationOpts": {"numItems": PAGE_SIZE, "cursor": self.cursor or None}
        }
        for key, value in (
            ("search", self.search),
            ("phase", self.phase),
            ("userId", self.user_id),
        ):
            if value:
                args[key] = value
        if self.status != "any":
            args["status"] = self.status
        async with self._caught("loading") as failed:
            result = await self._call("console:threads", args)
        if failed:
            yield failed.event
            return
        rows = []
        for doc in result["page"]:
            row = with_times(doc, "updatedTime")
            row.pop("metadata", None)
            row.setdefault("userId", "")
            row.setdefault("phase", "")
            rows.append(row)
        self.rows = self.rows + rows
        self.cursor = result["continueCursor"]
        self.done = result["isDone"]


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(
                rx.cond(row["title"].to(str) != "", row["title"], "(untitled)"),
                href="/threads/" + row["_id"].to(str),
                weight="medium",
            ),
            rx.text(row["_id"], size="1", color_scheme="gray", class_name="mono"),
        ),
        rx.table.cell(status_badge(row["status"].to(str))),
        rx.table.cell(
            rx.cond(
                row["phase"].to(str) != "",
                rx.badge(row["phase"], variant="outline"),
                rx.text("—", color_scheme="gray"),
            )
        ),
        rx.table.cell(rx.text(row["userId"], size="2", class_name="mono")),
        rx.table.cell(relative_time(row["updatedTimeIso"].to(str))),
        data_thread_row=row["_id"],
    )


def threads_page() -> rx.Component:
    filters = rx.form(
        rx.flex(
            rx.input(
                name="search",
                placeholder="Search titles…",
                default_value=ThreadsState.search,
                width="16em",
                aria_label="Search titles",
            ),
            choice(STATUSES, ThreadsState.status, ThreadsState.set_status, "Status"),
            rx.input(
                name="phase",
                placeholder="Phase (e.g. executing)",
                default_value=ThreadsState.phase,
                width="12em",
                aria_label="Phase",
            ),
            rx.input(
                name="user",
                placeholder="User id",
                default_value=ThreadsState.user_id,
                width="12em",
                aria_label="User",
            ),
            rx.button(rx.icon("search", size=14), "Search", type="submit", variant="soft"),
            rx.cond(
                ThreadsState.filtered,
                rx.button(
                    "Clear", type="button", variant="ghost", on_click=ThreadsState.clear_filters
                ),
            ),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
        on_submit=ThreadsState.apply_filters,
        key=ThreadsState.form_key,
        width="100%",
        margin_bottom="1em",
    )
    table = rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Thread"),
                    rx.table.column_header_cell("Status"),
                    rx.table.column_header_cell("Phase"),
                    rx.table.column_header_cell("User"),
                    rx.table.column_header_cell("Updated"),
                )
            ),
            rx.table.body(rx.foreach(ThreadsState.rows, _row)),
            width="100%",
            variant="surface",
        ),
        class_name="data-table",
    )
    return page_frame(
        page_header("Threads", subtitle="Every agent run, newest first."),
        filters,
        rx.cond(
            ThreadsState.rows.length() > 0,
            table,
            rx.cond(
                ThreadsState.loading,
                loading_block(),
                rx.cond(
                    ThreadsState.filtered,
                    empty_state(
                        "No thread matches", "Loosen the filters or clear them.", icon="search-x"
                    ),
                    empty_state(
                        "No threads yet",
                        rx.text(
                            "Backends create them with ",
                            rx.code("threads:create"),
                            ".",
                            color_scheme="gray",
                        ),
                        icon="messages-square",
                    ),
                ),
            ),
        ),
        rx.cond(
            ~ThreadsState.done,
            rx.center(
                rx.button(
                    "Load more",
                    on_click=ThreadsState.more,
                    loading=ThreadsState.loading,
                    variant="soft",
                ),
                padding="1em",
            ),
        ),
    )


def add(app: rx.App) -> None:
    app.add_page(
        threads_page,
        route="/threads",
        title="Threads · Threadline",
        on_load=signed_in_page(ThreadsState.load),
    )
