"""The decision buttons of an approval request (app/pages/approval.py): approve, request
changes and reject, each with its keyboard shortcut (assets/shortcuts.js reads data-shortcut)."""

from __future__ import annotations

import reflex as rx

from api.vocabulary import APPROVED, CHANGES_REQUESTED, REJECTED

# decision, icon, label, colour, variant (None: solid), shortcut, test id
DECISION_BUTTONS = [
    (APPROVED, "check", "Approve", "green", None, "a", "approve"),
    (
        CHANGES_REQUESTED,
        "message-square-warning",
        "Request changes",
        "orange",
        "soft",
        "c",
        "request-changes",
    ),
    (REJECTED, "x", "Reject", "red", "soft", "r", "reject"),
]


def decision_buttons(decide, deciding: rx.Var) -> list[rx.Component]:
    """One button per decision; `decide(decision)` is the page's event, `deciding` its flag."""
    buttons = []
    for decision, icon, label, color, variant, shortcut, test_id in DECISION_BUTTONS:
        props = {"variant": variant} if variant else {}
        buttons.append(
            rx.button(
                rx.icon(icon, size=16),
                label,
                color_scheme=color,
                **props,
                on_click=decide(decision),
                loading=deciding,
                data_shortcut=shortcut,
                data_testid=test_id,
                title=f"{label} ({shortcut})",
            )
        )
    return buttons
