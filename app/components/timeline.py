"""Timeline entries: a role-styled message (safe markdown) or a collapsible tool call, and a
list of them (the approval page's recent activity and calls outside the plan)."""

from __future__ import annotations

import reflex as rx

from app.components.markdown import safe_markdown
from app.components.ui import json_block, relative_time, status_badge

ROLE_COLORS = {"user": "blue", "assistant": "violet", "system": "gray", "tool": "teal"}


def _message(entry: rx.Var) -> rx.Component:
    role = entry["role"].to(str)
    return rx.box(
        rx.flex(
            rx.badge(role, color_scheme=rx.match(role, *ROLE_COLORS.items(), "gray")),
            rx.text("#", entry["order"], size="1", color_scheme="gray"),
            rx.spacer(),
            rx.text(entry["createdText"], size="1", color_scheme="gray", title=entry["createdIso"]),
            spacing="2",
            align="center",
        ),
        safe_markdown(entry["content"].to(str)),
        rx.cond(
            entry["contentNotice"].to(str) != "",
            rx.text(entry["contentNotice"], size="1", color_scheme="gray", data_testid="entry-cut"),
        ),
        class_name="timeline-entry message role-" + role,
        data_kind="message",
        data_id=entry["_id"],
    )


def _tool_call(entry: rx.Var) -> rx.Component:
    return rx.el.details(
        rx.el.summary(
            rx.flex(
                rx.icon("wrench", size=14),
                rx.code(entry["toolName"].to(str)),
                status_badge(entry["status"].to(str)),
                rx.cond(entry["outsidePlan"].to(bool), outside_plan_badge()),
                rx.text(entry["durationText"], size="1", color_scheme="gray"),
                rx.spacer(),
                rx.text(
                    entry["createdText"], size="1", color_scheme="gray", title=entry["createdIso"]
                ),
                spacing="2",
                align="center",
                wrap="wrap",
                display="inline-flex",
                width="calc(100% - 1.5em)",
            ),
        ),
        rx.vstack(
            rx.text("Input", size="1", weight="bold"),
            json_block(entry["inputJson"].to(str)),
            rx.cond(
                entry["outputJson"].to(str) != "",
                rx.fragment(
                    rx.text("Output", size="1", weight="bold"),
                    json_block(entry["outputJson"].to(str)),
                ),
                rx.text("No output yet", size="1", color_scheme="gray"),
            ),
            rx.cond(
                entry["toolCallId"].to(str) != "",
                rx.text("toolCallId ", rx.code(entry["toolCallId"].to(str)), size="1"),
            ),
            spacing="2",
            padding_top="0.5em",
            width="100%",
        ),
        class_name="timeline-entry tool-call",
        data_kind="toolCall",
        data_id=entry["_id"],
    )


def outside_plan_badge() -> rx.Component:
    """A tool call recorded after its thread's plan was approved that the plan did not list."""
    return rx.badge(
        rx.icon("shield-alert", size=12),
        "outside the approved plan",
        color_scheme="red",
        variant="solid",
        size="1",
        title="Not among the approved request's plannedToolCalls",
        data_testid="outside-plan-badge",
    )


def timeline_entry(entry: rx.Var) -> rx.Component:
    return rx.cond(entry["kind"] == "message", _message(entry), _tool_call(entry))


def timeline_list(entries: rx.Var) -> rx.Component:
    """Entries one under the other, compact (a card's worth of a thread)."""
    return rx.vstack(
        rx.foreach(entries, timeline_entry),
        spacing="2",
        width="100%",
        class_name="timeline compact",
    )


def request_row_time(entry: rx.Var) -> rx.Component:
    return relative_time(entry["createdIso"].to(str))
