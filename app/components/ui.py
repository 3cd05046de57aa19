"""Small shared widgets: status badges, empty states, page headers, key/value rows, and the
few layout pieces every page repeats (a card of stacked pieces, a line of centred pieces, muted
text, "only when this text is set")."""

from __future__ import annotations

import reflex as rx

from api.vocabulary import (
    ACTIVE,
    APPROVED,
    ARCHIVED,
    CANCELLED,
    CHANGES_REQUESTED,
    DRAFT,
    EXPIRED,
    FAILED,
    FINAL,
    PENDING,
    PENDING_REVIEW,
    REJECTED,
    STARTED,
    SUCCEEDED,
)

STATUS_COLORS = {
    PENDING: "amber",
    APPROVED: "green",
    REJECTED: "red",
    CHANGES_REQUESTED: "orange",
    CANCELLED: "gray",
    EXPIRED: "gray",
    ACTIVE: "blue",
    ARCHIVED: "gray",
    DRAFT: "gray",
    PENDING_REVIEW: "amber",
    FINAL: "violet",
    STARTED: "blue",
    SUCCEEDED: "green",
    FAILED: "red",
}


def muted(*content: rx.Component | rx.Var | str, size: str = "1", **props) -> rx.Component:
    """Gray text: times, counts, hints."""
    return rx.text(*content, size=size, color_scheme="gray", **props)


def if_set(
    text: rx.Var, shown: rx.Component, otherwise: rx.Component | str | None = None
) -> rx.Component:
    """`shown` only where a row's text field is not empty (else `otherwise`, or nothing)."""
    if otherwise is None:
        return rx.cond(text.to(str) != "", shown)
    return rx.cond(text.to(str) != "", shown, otherwise)


def inline(*children: rx.Component, spacing: str = "2", **props) -> rx.Component:
    """A line of pieces centred on each other (badges, a heading and its counters)."""
    return rx.flex(*children, spacing=spacing, align="center", **props)


def column(*children: rx.Component, spacing: str = "3", **props) -> rx.Component:
    """Pieces stacked full width (a page's body, one column of its grid)."""
    return rx.vstack(*children, spacing=spacing, width="100%", **props)


def note(content: rx.Component | rx.Var | str, icon: str, test_id: str, **props) -> rx.Component:
    """A full-width callout (what the reader should know about the page: a warning, a role)."""
    return rx.callout(content, icon=icon, width="100%", data_testid=test_id, **props)


def soft_button(*children: rx.Component | str, on_click, **props) -> rx.Component:
    """The secondary buttons (cancel, download, stop, show ...)."""
    return rx.button(*children, variant="soft", on_click=on_click, **props)


def text_box(id_: str, value: rx.Var, on_change, rows: str, **props) -> rx.Component:
    """A full-width text area (a comment, a plan) whose id is its test id too."""
    return rx.text_area(
        id=id_, value=value, on_change=on_change, rows=rows, width="100%", data_testid=id_, **props
    )


def card_header(title: str, link: str, href: rx.Var | str) -> rx.Component:
    """A card's heading with a link to the whole of what it shows on the right."""
    return rx.flex(
        rx.heading(title, size="3"),
        rx.spacer(),
        rx.link(link, href=href, size="2"),
        width="100%",
        align="center",
    )


def panel(
    *children: rx.Component, spacing: str = "2", test_id: str | None = None, **props
) -> rx.Component:
    """A full-width card whose pieces stack (the detail pages' cards)."""
    if test_id is not None:
        props["data_testid"] = test_id
    return rx.card(rx.vstack(*children, spacing=spacing, width="100%"), width="100%", **props)


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
    """The spinner a page shows until its first read is back."""
    return rx.center(rx.spinner(size="3"), padding="3em", width="100%")


def detail_or_missing(
    loading: rx.Var, found: rx.Var, detail: rx.Component, missing: str, back: str, href: str
) -> rx.Component:
    """A detail page's body: a spinner while loading, then the detail or a "not found" state
    with a way back."""
    return rx.cond(
        loading,
        loading_block(),
        rx.cond(found, detail, empty_state(missing, rx.link(back, href=href), icon="search-x")),
    )


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


def not_allowed() -> rx.Component:
    """What a signed-in non-admin sees on an admin page (the server refuses them anyway)."""
    return rx.box(
        empty_state(
            "Not allowed",
            "Only admins manage people, API keys, webhooks and the audit log. Ask an admin if you "
            "need this.",
            icon="shield-x",
        ),
        data_testid="not-allowed",
    )


def admin_only(denied: rx.Var, is_admin: rx.Var, content: rx.Component) -> rx.Component:
    """An admin page's body: "not allowed" once its load found a non-admin, a spinner until the
    role is known. Only UX: the page's handlers and call() check the role themselves."""
    return rx.cond(denied, not_allowed(), rx.cond(is_admin, content, loading_block()))


def copy_button(value: rx.Var | str, label: str = "Copy", test_id: str = "copy") -> rx.Component:
    return rx.button(
        rx.icon("copy", size=14),
        label,
        type="button",
        variant="soft",
        on_click=[rx.set_clipboard(value), rx.toast.success("Copied")],
        data_testid=test_id,
    )


def shown_once(
    title: str,
    value: rx.Var,
    note: rx.Var | str,
    on_dismiss,
    test_id: str,
) -> rx.Component:
    """A secret (API key, one-time link) shown this once, with a copy button and a warning;
    nothing while `value` is ""."""
    callout = rx.callout.root(
        rx.callout.icon(rx.icon("key-round")),
        rx.vstack(
            rx.text(title, weight="bold", size="2"),
            rx.text(note, size="2"),
            rx.code(
                value,
                class_name="secret-value",
                variant="outline",
                size="2",
                data_testid=test_id,
            ),
            rx.flex(
                copy_button(value, test_id=f"{test_id}-copy"),
                rx.button(
                    "Done, hide it",
                    type="button",
                    variant="ghost",
                    on_click=on_dismiss,
                    data_testid=f"{test_id}-dismiss",
                ),
                spacing="2",
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
            min_width="0",
        ),
        color_scheme="amber",
        width="100%",
        margin_bottom="1em",
        role="status",
    )
    return rx.cond(value != "", callout)


def confirm_dialog(
    open_: rx.Var,
    title: str | rx.Var,
    description: rx.Component | rx.Var | str,
    confirm_label: str,
    on_confirm,
    on_cancel,
    test_id: str,
) -> rx.Component:
    """A controlled confirmation (Radix alert dialog; never the browser's confirm())."""
    confirm = rx.button(
        confirm_label, color_scheme="red", on_click=on_confirm, data_testid=f"{test_id}-confirm"
    )
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description, size="2"),
            rx.flex(
                rx.alert_dialog.cancel(
                    soft_button("Cancel", color_scheme="gray", on_click=on_cancel)
                ),
                rx.alert_dialog.action(confirm),
                spacing="3",
                justify="end",
                margin_top="1em",
            ),
            max_width="440px",
            data_testid=test_id,
        ),
        open=open_,
    )


def labelled_input(label: str, name: str, **props) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", size="2", weight="medium", html_for=name),
        rx.input(id=name, name=name, width="100%", size="3", **props),
        spacing="1",
        width="100%",
    )


def new_password_fields(label: str = "New password") -> list[rx.Component]:
    """Password + repeat. The browser checks the minimum; the server checks 8–72 bytes."""
    return [
        labelled_input(
            label,
            "password",
            type="password",
            auto_complete="new-password",
            required=True,
            min_length=8,
        ),
        labelled_input(
            "Repeat the password",
            "repeat",
            type="password",
            auto_complete="new-password",
            required=True,
            min_length=8,
        ),
        rx.text("At least 8 characters, at most 72 bytes.", size="1", color_scheme="gray"),
    ]


def form_error(message: rx.Var, test_id: str) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(
            message,
            icon="triangle-alert",
            color_scheme="red",
            width="100%",
            role="alert",
            data_testid=test_id,
        ),
    )


def notice(icon: str, color: str, test_id: str, *text) -> rx.Component:
    """A full-width callout with an icon (a public page's "link not valid", "done" ...)."""
    return rx.callout.root(
        rx.callout.icon(rx.icon(icon)),
        rx.callout.text(*text),
        color_scheme=color,
        width="100%",
        data_testid=test_id,
    )


def wide_submit(label: str, busy: rx.Var) -> rx.Component:
    """The big full-width submit button of the sign-in, setup and set-password forms."""
    return rx.button(label, type="submit", loading=busy, width="100%", size="3")
