"""/: the state of the review queue at a glance, and the last 14 days of decisions and tool
calls (dashboard:stats, computed with SQL aggregates)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from api.vocabulary import APPROVED, CHANGES_REQUESTED, REJECTED
from app.components.layout import add_signed_in, page_frame
from app.components.ui import empty_state, loading_block, muted, page_header, relative_time
from app.formatting import duration, iso
from app.routes import DASHBOARD
from app.state import AuthState, PendingQueue

DAYS = 14


class DashboardState(AuthState):
    loading: bool = True
    oldest_pending_iso: str = ""
    decisions_today: int = 0
    decisions_in_window: int = 0
    median_decision: str = ""
    per_day: list[dict[str, Any]] = []
    per_tool: list[dict[str, Any]] = []
    outside_plan: int = 0

    @rx.event
    async def load(self):
        if self._caller() is None:
            yield self._to_signin()
            return
        self.loading = True
        yield
        async with self._caught("loading") as failed:
            stats = await self._call("dashboard:stats", {"days": DAYS})
        if failed:
            yield failed.event
            return
        self.oldest_pending_iso = iso(stats["oldestPendingTime"])
        self.decisions_today = stats["decisionsToday"]
        self.decisions_in_window = stats["decisionsInWindow"]
        self.median_decision = duration(stats["medianDecisionMs"]) or "—"
        self.outside_plan = stats["outsidePlanCount"]
        self.per_day = [
            {
                "day": day["day"][5:],
                "approved": day[APPROVED],
                "rejected": day[REJECTED],
                "changes requested": day[CHANGES_REQUESTED],
            }
            for day in stats["decisionsPerDay"]
        ]
        self.per_tool = [
            {
                "tool": tool["toolName"],
                "succeeded or started": tool["count"] - tool["failed"],
                "failed": tool["failed"],
            }
            for tool in stats["toolCallsPerTool"]
        ]


def _stat(label: str, value: rx.Component, hint: str, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(label, size="2", color_scheme="gray"),
            rx.heading(value, size="7"),
            muted(hint),
            spacing="1",
        ),
        class_name="stat-card",
        data_testid=test_id,
    )


def _decisions_chart() -> rx.Component:
    return rx.recharts.bar_chart(
        rx.recharts.cartesian_grid(stroke_dasharray="3 3", opacity=0.4),
        rx.recharts.x_axis(data_key="day", font_size=11),
        rx.recharts.y_axis(allow_decimals=False, width=32, font_size=11),
        rx.recharts.graphing_tooltip(),
        rx.recharts.legend(),
        rx.recharts.bar(data_key="approved", stack_id="d", fill=rx.color("green", 9)),
        rx.recharts.bar(data_key="changes requested", stack_id="d", fill=rx.color("orange", 9)),
        rx.recharts.bar(data_key="rejected", stack_id="d", fill=rx.color("red", 9)),
        data=DashboardState.per_day,
        width="100%",
        height=280,
    )


def _tools_chart() -> rx.Component:
    return rx.cond(
        DashboardState.per_tool.length() > 0,
        rx.recharts.bar_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3", opacity=0.4),
            rx.recharts.x_axis(type_="number", allow_decimals=False, font_size=11),
            rx.recharts.y_axis(data_key="tool", type_="category", width=110, font_size=11),
            rx.recharts.graphing_tooltip(),
            rx.recharts.legend(),
            rx.recharts.bar(
                data_key="succeeded or started", stack_id="t", fill=rx.color("indigo", 9)
            ),
            rx.recharts.bar(data_key="failed", stack_id="t", fill=rx.color("red", 9)),
            data=DashboardState.per_tool,
            layout="vertical",
            width="100%",
            height=280,
        ),
        empty_state(
            "No tool calls in the last 14 days",
            rx.text(
                "Backends record them with ", rx.code("toolCalls:record"), ".", color_scheme="gray"
            ),
            icon="wrench",
        ),
    )


def dashboard_page() -> rx.Component:
    return page_frame(
        page_header(
            "Dashboard",
            rx.link(rx.button(rx.icon("inbox", size=14), "Open the inbox"), href="/approvals"),
            subtitle="Days are UTC days.",
        ),
        rx.cond(
            DashboardState.loading,
            loading_block(),
            rx.vstack(
                rx.grid(
                    _stat(
                        "Pending",
                        rx.text(PendingQueue.count),
                        "waiting for a decision",
                        "stat-pending",
                    ),
                    _stat(
                        "Oldest pending",
                        rx.cond(
                            PendingQueue.count > 0,
                            relative_time(DashboardState.oldest_pending_iso),
                            "—",
                        ),
                        "since it was requested",
                        "stat-oldest",
                    ),
                    _stat(
                        "Decisions today",
                        rx.text(DashboardState.decisions_today),
                        "approved, rejected or sent back",
                        "stat-today",
                    ),
                    _stat(
                        "Median time to decision",
                        rx.text(DashboardState.median_decision),
                        "over the last 14 days",
                        "stat-median",
                    ),
                    _stat(
                        "Outside the plan",
                        rx.text(
                            DashboardState.outside_plan,
                            color=rx.cond(DashboardState.outside_plan > 0, rx.color("red", 11), ""),
                        ),
                        "tool calls not in an approved plan, 14 days",
                        "stat-outside-plan",
                    ),
                    columns=rx.breakpoints(initial="2", md="5"),
                    spacing="3",
                    width="100%",
                ),
                rx.grid(
                    rx.card(
                        rx.heading("Decisions per day", size="3"),
                        _decisions_chart(),
                        width="100%",
                        min_width="0",
                    ),
                    rx.card(
                        rx.heading("Tool calls per tool", size="3"),
                        _tools_chart(),
                        width="100%",
                        min_width="0",
                    ),
                    columns=rx.breakpoints(initial="1", lg="2"),
                    spacing="3",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
        ),
    )


def add(app: rx.App) -> None:
    add_signed_in(app, dashboard_page, DASHBOARD, "Dashboard", DashboardState.load)
