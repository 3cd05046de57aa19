"""The session card and its rows (phase, SDK session, last update, state as JSON), shared by the
thread and approval pages; `session` is a page's rows.SessionRow."""

from __future__ import annotations

import reflex as rx

from app.components.ui import field_row, if_set, panel


def session_card(*body: rx.Component, test_id: str | None = None) -> rx.Component:
    """The "Session" card holding `body` (session_fields, json_details)."""
    return panel(rx.heading("Session", size="3"), *body, test_id=test_id)


def session_fields(session: rx.Var, sdk_test_id: str | None = None) -> list[rx.Component]:
    """phase, SDK session id and when it was updated ("—" for what is not set)."""
    code_props = {"data_testid": sdk_test_id} if sdk_test_id else {}
    return [
        field_row(
            "phase",
            if_set(session.phase, rx.badge(session.phase), "—"),
        ),
        field_row(
            "SDK session",
            if_set(session.sdkSessionId, rx.code(session.sdkSessionId, **code_props), "—"),
        ),
        field_row("updated", session.updatedText),
    ]


def json_details(label: str, text: rx.Var, *more: rx.Component) -> rx.Component:
    """A folded JSON block (only when there is text), opened by its label."""
    return if_set(
        text,
        rx.el.details(
            rx.el.summary(rx.text(label, size="1", as_="span")),
            rx.el.pre(text, class_name="json-block"),
            *more,
        ),
    )
