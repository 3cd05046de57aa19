"""/artifacts: plans, reports and other artifacts, newest first, filtered by type, status and
thread; keyset-paged through artifacts:list."""

from __future__ import annotations

from typing import Any

import reflex as rx

from api.vocabulary import APPROVED, DRAFT, FINAL, PENDING_REVIEW, REJECTED
from app.components.layout import add_signed_in, page_frame
from app.components.lists import data_table, filter_bar, filter_input, list_body, submit_button
from app.components.ui import (
    choice,
    empty_state,
    page_header,
    relative_time,
    status_badge,
)
from app.paging import PagedList
from app.routes import ARTIFACTS, artifact_url, thread_url
from app.rows import ArtifactRow
from app.state import AuthState

STATUSES = ["any", DRAFT, PENDING_REVIEW, APPROVED, REJECTED, FINAL]


class ArtifactsState(PagedList, AuthState):
    rows: list[ArtifactRow] = []
    type_filter: str = ""
    status_filter: str = "any"
    thread_filter: str = ""

    @rx.var
    def filtered(self) -> bool:
        return bool(self.type_filter or self.thread_filter or self.status_filter != "any")

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

    def _filter_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.type_filter:
            args["type"] = self.type_filter
        if self.thread_filter:
            args["threadId"] = self.thread_filter
        if self.status_filter != "any":
            args["status"] = self.status_filter
        return args

    async def _page(self, args: dict[str, Any]):
        result = await self._call("artifacts:list", args)
        return result, [ArtifactRow.of(doc) for doc in result["page"]]


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(
                rx.cond(row.title != "", row.title, "(untitled)"),
                href=artifact_url(row._id),
                weight="medium",
            ),
        ),
        rx.table.cell(rx.badge(row.type, variant="outline")),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(rx.text("v", row.version, size="2")),
        rx.table.cell(
            rx.link(
                row.threadId,
                href=thread_url(row.threadId),
                size="1",
                class_name="mono",
            )
        ),
        rx.table.cell(relative_time(row.updatedTimeIso)),
    )


def artifacts_page() -> rx.Component:
    filters = filter_bar(
        filter_input("type", "Type", "Type (plan, report…)", ArtifactsState.type_filter),
        choice(STATUSES, ArtifactsState.status_filter, ArtifactsState.set_status_filter, "Status"),
        filter_input("thread", "Thread", "Thread id", ArtifactsState.thread_filter, "16em"),
        on_submit=ArtifactsState.apply_filters,
        state=ArtifactsState,
        on_clear=ArtifactsState.clear_filters,
        submit=submit_button("filter", "Filter"),
        margin_bottom="1em",
    )
    table = data_table(
        ["Artifact", "Type", "Status", "Version", "Thread", "Updated"], ArtifactsState.rows, _row
    )
    empty = empty_state(
        "No artifacts yet",
        rx.text(
            "Backends create them with ", rx.code("artifacts:create"), ".", color_scheme="gray"
        ),
        icon="file-text",
    )
    return page_frame(
        page_header("Artifacts", subtitle="Plans, reports and what else agents produce."),
        filters,
        *list_body(
            ArtifactsState,
            table,
            empty,
            no_match="No artifact matches",
        ),
    )


def add(app: rx.App) -> None:
    add_signed_in(app, artifacts_page, ARTIFACTS, "Artifacts", ArtifactsState.load)
