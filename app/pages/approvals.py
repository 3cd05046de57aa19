"""/approvals: the reviewer's inbox. Pending requests come from the tab's own PendingQueue (kept
live by app.state.live_queue while its session lasts); the "Decided" view pages through who
decided what, and why."""

from __future__ import annotations

from typing import Any

import reflex as rx

from api.vocabulary import DECISIONS
from app.components.layout import add_signed_in, page_frame
from app.components.lists import filter_input, inline_form, list_body
from app.components.ui import (
    choice,
    empty_state,
    inline,
    loading_block,
    muted,
    page_header,
    relative_time,
    status_badge,
)
from app.paging import PagedList
from app.routes import APPROVALS, approval_url
from app.rows import DecidedRow
from app.state import AuthState, PendingQueue

DECISION_FILTERS = ["any", *DECISIONS]


class ApprovalsState(PagedList, AuthState):
    """The "Decided" view is the paged list (rows: decided requests)."""

    rows: list[DecidedRow] = []
    view: str = "pending"
    decision_filter: str = "any"
    thread_filter: str = ""

    @rx.event
    async def load(self):
        if self._caller() is None:
            return self._to_signin()
        self.view = (
            "decided" if self.router.url.query_parameters.get("view") == "decided" else ("pending")
        )
        if self.view == "decided":
            return ApprovalsState.refresh
        return None

    @rx.event
    def show(self, view: str | list[str]):
        self.view = "decided" if view == "decided" else "pending"
        if self.view == "decided":
            return ApprovalsState.refresh
        return None

    @rx.event
    def filter_decided(self, form_data: dict):
        self.thread_filter = str(form_data.get("thread", "")).strip()[:200]
        return ApprovalsState.refresh

    @rx.event
    def set_decision_filter(self, decision: str):
        self.decision_filter = decision if decision in DECISION_FILTERS else "any"
        return ApprovalsState.refresh

    def _filter_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.decision_filter != "any":
            args["decision"] = self.decision_filter
        if self.thread_filter:
            args["threadSearch"] = self.thread_filter
        return args

    async def _page(self, args: dict[str, Any]):
        result = await self._call("inbox:decided", args)
        return result, [DecidedRow.of(doc) for doc in result["page"]]


def _pending_row(request: rx.Var) -> rx.Component:
    return rx.link(
        inline(
            rx.vstack(
                inline(
                    rx.text(
                        rx.cond(
                            request.threadTitle != "",
                            request.threadTitle,
                            "(untitled thread)",
                        ),
                        weight="bold",
                        size="3",
                    ),
                    rx.cond(
                        request.artifactId != "",
                        rx.badge("plan artifact", variant="outline", size="1"),
                    ),
                    wrap="wrap",
                ),
                rx.text(request.planPreview, size="2", color_scheme="gray", class_name="clamp-2"),
                rx.cond(
                    request.claimedByName != "",
                    rx.badge(
                        rx.icon("eye", size=12),
                        request.claimedByName + " is reviewing",
                        color_scheme="amber",
                        variant="soft",
                        data_testid="claim-badge",
                    ),
                ),
                spacing="1",
                flex="1",
                min_width="0",
            ),
            rx.cond(
                request.approvals[1] > 1,
                rx.vstack(
                    rx.badge(
                        request.approvals[0],
                        " of ",
                        request.approvals[1],
                        " approvals",
                        variant="soft",
                        color_scheme=rx.cond(request.approvals[0] > 0, "green", "gray"),
                        data_testid="approval-count",
                    ),
                    rx.cond(
                        request.approvers != "",
                        muted(
                            "approved by ",
                            request.approvers,
                            class_name="clamp-2",
                            data_testid="approver-names",
                        ),
                    ),
                    align="end",
                    spacing="1",
                    max_width="12em",
                ),
            ),
            rx.cond(
                request.expires > 0,
                rx.vstack(
                    muted("expires in"),
                    rx.text(
                        size="2",
                        as_="span",
                        class_name="countdown",
                        data_deadline=request.expires,
                        data_testid="countdown",
                    ),
                    align="end",
                    spacing="0",
                    min_width="6em",
                ),
                rx.vstack(
                    muted("waiting"),
                    rx.text(relative_time(request.createdIso), size="2"),
                    align="end",
                    spacing="0",
                    min_width="6em",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        href=approval_url(request._id),
        underline="none",
        color="inherit",
        class_name="queue-row",
        data_queue_row=request._id,
    )


def pending_view() -> rx.Component:
    return rx.cond(
        PendingQueue.loaded,
        rx.cond(
            PendingQueue.requests.length() > 0,
            rx.vstack(
                rx.foreach(PendingQueue.requests, _pending_row),
                rx.cond(
                    ~PendingQueue.complete,
                    rx.text(
                        "Showing the first ",
                        PendingQueue.requests.length(),
                        " of ",
                        PendingQueue.count,
                        " pending requests.",
                        size="2",
                        color_scheme="gray",
                    ),
                ),
                spacing="2",
                width="100%",
                data_testid="pending-list",
            ),
            empty_state(
                "No pending requests",
                rx.text(
                    "Backends create them with ",
                    rx.code("approvalRequests:create"),
                    "; they appear here the moment they arrive.",
                    color_scheme="gray",
                ),
                icon="circle-check",
            ),
        ),
        loading_block(),
    )


def _decided_card(row: rx.Var) -> rx.Component:
    return rx.card(
        inline(
            status_badge(row.status),
            rx.cond(row.edited, rx.badge("edited plan", variant="outline")),
            rx.link(
                rx.cond(row.threadTitle != "", row.threadTitle, "(untitled thread)"),
                href=approval_url(row._id),
                weight="bold",
            ),
            rx.spacer(),
            muted(row.decidedTimeText, title=row.decidedTimeIso),
            wrap="wrap",
        ),
        rx.text(
            "by ",
            rx.text.strong(row.decidedByName),
            " after ",
            row.waited,
            size="2",
            color_scheme="gray",
            margin_top="0.25em",
        ),
        rx.cond(
            row.comment != "",
            rx.blockquote(row.comment, size="2", margin_top="0.5em"),
        ),
        width="100%",
        class_name="decided-row",
        data_status=row.status,
    )


def decided_view() -> rx.Component:
    return rx.vstack(
        inline_form(
            choice(
                DECISION_FILTERS,
                ApprovalsState.decision_filter,
                ApprovalsState.set_decision_filter,
                "Decision",
            ),
            filter_input(
                "thread", "Thread", "Thread title contains…", ApprovalsState.thread_filter, "16em"
            ),
            rx.button("Filter", type="submit", variant="soft"),
            on_submit=ApprovalsState.filter_decided,
            form_key=ApprovalsState.form_key,
        ),
        *list_body(
            ApprovalsState,
            rx.vstack(
                rx.foreach(ApprovalsState.rows, _decided_card),
                spacing="2",
                width="100%",
                data_testid="decided-list",
            ),
            empty_state(
                "Nothing decided yet",
                "Decisions appear here with who made them, when and why.",
                icon="history",
            ),
            centered=False,
        ),
        spacing="3",
        width="100%",
    )


def approvals_page() -> rx.Component:
    return page_frame(
        page_header(
            "Approvals",
            rx.segmented_control.root(
                rx.segmented_control.item(
                    inline("Pending", rx.badge(PendingQueue.count, variant="soft"), spacing="1"),
                    value="pending",
                ),
                rx.segmented_control.item("Decided", value="decided"),
                value=ApprovalsState.view,
                on_change=ApprovalsState.show,
                data_testid="approvals-view",
            ),
            subtitle=(
                "Soonest deadline first, then the oldest without one. "
                "j / k move, Enter opens, ? shows every key."
            ),
        ),
        rx.cond(ApprovalsState.view == "decided", decided_view(), pending_view()),
    )


def add(app: rx.App) -> None:
    add_signed_in(app, approvals_page, APPROVALS, "Approvals", ApprovalsState.load)
