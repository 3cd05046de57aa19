"""Timeline entries: a role-styled message (safe markdown) or a collapsible tool call, and a
list of them (the approval page's recent activity and calls outside the plan)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from api.vocabulary import ASSISTANT, SYSTEM, TOOL, USER
from app.components.markdown import safe_markdown
from app.components.ui import if_set, inline, json_block, muted, relative_time, status_badge

ROLE_COLORS = {USER: "blue", ASSISTANT: "violet", SYSTEM: "gray", TOOL: "teal"}


def _entry_props(entry: rx.Var, kind: str, class_name: rx.Var | str) -> dict[str, Any]:
    """What marks an entry in the page (its kind and id: assets/live_thread.js, the tests)."""
    return {"class_name": class_name, "data_kind": kind, "data_id": entry._id}


def _time(entry: rx.Var) -> rx.Component:
    """When the entry was recorded ("3 minutes ago" is the list's; this is the exact time)."""
    return muted(entry.createdText, title=entry.createdIso)


def _message(entry: rx.Var) -> rx.Component:
    role = entry.role
    notice = muted(entry.contentNotice, data_testid="entry-cut")
    return rx.box(
        inline(
            rx.badge(role, color_scheme=rx.match(role, *ROLE_COLORS.items(), "gray")),
            muted("#", entry.order),
            rx.spacer(),
            _time(entry),
        ),
        safe_markdown(entry.content),
        if_set(entry.contentNotice, notice),
        **_entry_props(entry, "message", "timeline-entry message role-" + role),
    )


def _tool_call_line(entry: rx.Var) -> list[rx.Component]:
    return [
        rx.icon("wrench", size=14),
        rx.code(entry.toolName),
        status_badge(entry.status),
        rx.cond(entry.outsidePlan, outside_plan_badge()),
        muted(entry.durationText),
        rx.spacer(),
        _time(entry),
    ]


def _json_part(label: str, text: rx.Var) -> list[rx.Component]:
    return [rx.text(label, size="1", weight="bold"), json_block(text)]


def _tool_call(entry: rx.Var) -> rx.Component:
    output = if_set(
        entry.outputJson,
        rx.fragment(*_json_part("Output", entry.outputJson)),
        muted("No output yet"),
    )
    call_id = rx.text("toolCallId ", rx.code(entry.toolCallId), size="1")
    summary = inline(
        *_tool_call_line(entry), wrap="wrap", display="inline-flex", width="calc(100% - 1.5em)"
    )
    return rx.el.details(
        rx.el.summary(summary),
        rx.vstack(
            *_json_part("Input", entry.inputJson),
            output,
            if_set(entry.toolCallId, call_id),
            spacing="2",
            padding_top="0.5em",
            width="100%",
        ),
        **_entry_props(entry, "toolCall", "timeline-entry tool-call"),
    )


def outside_plan_badge() -> rx.Component:
    """A tool call recorded after its thread's plan was approved that the plan did not list."""
    label = (rx.icon("shield-alert", size=12), "outside the approved plan")
    return rx.badge(
        *label,
        color_scheme="red",
        variant="solid",
        size="1",
        title="Not among the approved request's plannedToolCalls",
        data_testid="outside-plan-badge",
    )


def timeline_entry(entry: rx.Var) -> rx.Component:
    return rx.cond(entry.kind == "message", _message(entry), _tool_call(entry))


def timeline_list(entries: rx.Var) -> rx.Component:
    """Entries one under the other, compact (a card's worth of a thread)."""
    return rx.vstack(
        rx.foreach(entries, timeline_entry),
        spacing="2",
        width="100%",
        class_name="timeline compact",
    )


def request_row_time(entry: rx.Var) -> rx.Component:
    return relative_time(entry.createdIso)
