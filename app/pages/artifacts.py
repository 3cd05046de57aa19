"""/artifacts: plans, reports and other artifacts, newest first, filtered by type, status and
thread; keyset-paged through artifacts:list."""

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
STATUSES = ["any", "draft", "pending_review", "approved", "rejected", "final"]


class ArtifactsState(AuthState):
    rows: list[dict[str, Any]] = []
    cursor: str = ""
    done: bool = True
    loading: bool = False
    type_filter: str = ""
    status_filter: str = "any"
    thread_filter: str = ""
    # Bumped by "Clear" so the filter form remounts with empty fields.
    form_key: int = 0

    @rx.var
    def filtered(self) -> bool:
        return bool(self.type_filter or self.thread_filter or self.status_filter != "any")

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
        self.type_filter = str(form_data.get("type", "")).strip().lower()[:40]
        self.thread_filter = str(form_data.get("thread", "")).strip()[:64]
        return ArtifactsState.load

    @rx.event
    def set_status_filter(self, status: str):
        self.status_filter = status if status in STATUSES else "any"
        return ArtifactsState.load

    @rx.event
    def clear_filters(self):
        self.type_filter, self.thread_filter, self.status_filter = "", "", "any"
        self.form_key += 1
        return ArtifactsState.load

    async def _fetch(self):
        if self._caller() is None:
            yield self._to_signin()
            return
        self.loading = True
        yield
        args: dict[str, Any] = {
            "paginationOpts": {"numItems": PAGE_SIZE, "cursor": self.cursor or None}
        }
        if self.type_filter:
            args["type"] = self.type_filter
        if self.thread_filter:
            args["threadId"] = self.thread_filter
        if self.status_filter != "any":
            args["status"] = self.status_filter
        async with self._caught("loading") as failed:
            result = await self._call("artifacts:list", args)
        if failed:
            yield failed.event
            return
        rows = []
        for doc in result["page"]:
            row = with_times(doc, "updatedTime")
            row.pop("content", None)
            row["title"] = doc.get("title") or ""
            rows.append(row)
        self.rows = self.rows + rows
        self.cursor = result["continueCursor"]
        self.done = result["isDone"]


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(
                rx.cond(row["title"].to(str) != "", row["title"], "(untitled)"),
                href="/artifacts/" + row["_id"].to(str),
                weight="medium",
            ),
        ),
        rx.table.cell(rx.badge(row["type"], variant="outline")),
        rx.table.cell(status_badge(row["status"].to(str))),
        rx.table.cell(rx.text("v", row["version"], size="2")),
        rx.table.cell(
            rx.link(
                row["threadId"],
                href="/threads/" + row["threadId"].to(str),
                size="1",
                class_name="mono",
            )
        ),
        rx.table.cell(relative_time(row["updatedTimeIso"].to(str))),
    )


def artifacts_page() -> rx.Component:
    filters = rx.form(
        rx.flex(
            rx.input(
                name="type",
                placeholder="Type (plan, report…)",
                default_value=ArtifactsState.type_filter,
                width="12em",
                aria_label="Type",
            ),
            choice(
                STATUSES, ArtifactsState.status_filter, ArtifactsState.set_status_filter, "Status"
            ),
            rx.input(
                name="thread",
                placeholder="Thread id",
                default_value=ArtifactsState.thread_filter,
                width="16em",
                aria_label="Thread",
            ),
            rx.button(rx.icon("filter", size=14), "Filter", type="submit", variant="soft"),
            rx.cond(
                ArtifactsState.filtered,
                rx.button(
                    "Clear", type="button", variant="ghost", on_click=ArtifactsState.clear_filters
                ),
            ),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
        on_submit=ArtifactsState.apply_filters,
        key=ArtifactsState.form_key,
        width="100%",
        margin_bottom="1em",
    )
    table = rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(name)
                        for name in ("Artifact", "Type", "Status", "Version", "Thread", "Updated")
                    ]
                )
            ),
            rx.table.body(rx.foreach(ArtifactsState.rows, _row)),
            width="100%",
            variant="surface",
        ),
        class_name="data-table",
    )
    return page_frame(
        page_header("Artifacts", subtitle="Plans, reports and what else agents produce."),
        filters,
        rx.cond(
            ArtifactsState.rows.length() > 0,
            table,
            rx.cond(
                ArtifactsState.loading,
                loading_block(),
                rx.cond(
                    ArtifactsState.filtered,
                    empty_state(
                        "No artifact matches", "Loosen the filters or clear them.", icon="search-x"
                    ),
                    empty_state(
                        "No artifacts yet",
                        rx.text(
                            "Backends create them with ",
                            rx.code("artifacts:create"),
                            ".",
                            color_scheme="gray",
                        ),
                        icon="file-text",
                    ),
                ),
            ),
        ),
        rx.cond(
            ~ArtifactsState.done,
            rx.center(
                rx.button(
                    "Load more",
                    on_click=ArtifactsState.more,
                    loading=ArtifactsState.loading,
                    variant="soft",
                ),
                padding="1em",
            ),
        ),
    )


def add(app: rx.App) -> None:
    app.add_page(
        artifacts_page,
        route="/artifacts",
        title="Artifacts · Threadline",
        on_load=signed_in_page(ArtifactsState.load),
    )
