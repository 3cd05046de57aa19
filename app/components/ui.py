"""Small shared widgets: status badges, empty states, page headers, key/value rows."""

from __future__ import annotations

import reflex as rx

STATUS_COLORS = {
    "pending": "amber",
    "approved": "green",
    "rejected": "red",
    "changes_requested": "orange",
    "cancelled": "gray",
    "expired": "gray",
    "active": "blue",
    "archived": "gray",
    "draft": "gray",
    "pending_review": "amber",
    "final": "violet",
    "started": "blue",
    "succeeded": "green",
    "failed": "red",
}


def status_badge(status: rx.Var | str) -> rx.Component:
    color = rx.match(status, *STATUS_COLORS.items(), "gray")
    label = status.to(str).replace("_", " ") if isinstance(status, rx.Var) else status
    return rx.badge(label, color_scheme=color, variant="soft", data_status=status)


def empty_state(title: str, hint: str | rx.Component, icon: str = "inbox") -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=32, color=rx.color("gray", 9)),
            rx.heading(title, size="4", as_="h2"),
            hint if isinstance(hint, rx.Component) else rx.text(hint, color_scheme="gray"),
            align="center",
            spacing="2",
            text_align="center",
        ),
        padding="3em 1em",
        width="100%",
        class_name="empty-state",
    )


def page_header(title: str | rx.Var, *actions: rx.Component, subtitle=None) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.heading(title, size="6", as_="h1"),
            rx.cond(subtitle is not None, rx.text(subtitle, color_scheme="gray", size="2"))
            if subtitle is not None
            else rx.fragment(),
            spacing="1",
        ),
        rx.spacer(),
        rx.flex(*actions, spacing="2", wrap="wrap", align="center"),
        width="100%",
        wrap="wrap",
        spacing="3",
        align="center",
        margin_bottom="1em",
    )


def loading_block() -> rx.Component:
    return rx.center(rx.spinner(size="3"), padding="3em", width="100%")


def field_row(label: str, value: rx.Component | rx.Var | str) -> rx.Component:
    return rx.flex(
        rx.text(label, size="1", color_scheme="gray", min_width="7em"),
        value if isinstance(value, rx.Component) else rx.text(value, size="2", class_name="mono"),
        spacing="2",
        align="baseline",
        wrap="wrap",
    )


def relative_time(iso: rx.Var) -> rx.Component:
    """ "3 minutes ago", refreshed every 30 s in the browser, with the exact time on hover."""
    return rx.moment(iso, from_now=True, interval=30_000, title=iso)


def json_block(text: rx.Var) -> rx.Component:
    return rx.el.pre(text, class_name="json-block")


def choice(
    items: list[str] | rx.Var,
    value: rx.Var | str,
    on_change,
    label: str,
    test_id: str | None = None,
    **props,
) -> rx.Component:
    """A select whose trigger carries the accessible label (and an optional test id)."""
    if isinstance(items, rx.Var):
        content = rx.select.content(
            rx.foreach(items, lambda item: rx.select.item(item, value=item))
        )
    else:
        content = rx.select.content(
            *[rx.select.item(item.replace("_", " "), value=item) for item in items]
        )
    trigger = rx.select.trigger(aria_label=label, title=label)
    if test_id is not None:
        trigger = rx.select.trigger(aria_label=label, title=label, data_testid=test_id)
    return rx.select.root(trigger, content, value=value, on_change=on_change, **props)
