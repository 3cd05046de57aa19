"""The frame around every signed-in page: top bar with navigation, the live pending-count
badge, the color-mode toggle and sign-out; the keyboard-shortcut help dialog."""

from __future__ import annotations

import reflex as rx

from app.components.ui import admin_only, inline, muted, soft_button
from app.state import AuthState, PendingQueue

NAV = [
    ("Dashboard", "/", "layout-dashboard"),
    ("Approvals", "/approvals", "inbox"),
    ("Threads", "/threads", "messages-square"),
    ("Artifacts", "/artifacts", "file-text"),
    ("Account", "/account", "circle-user"),
]
# Shown to admins only (UX: call() refuses anyone else on these pages' functions).
ADMIN_NAV = [
    ("Users", "/admin/users", "users"),
    ("Keys", "/admin/keys", "key-round"),
    ("Webhooks", "/admin/webhooks", "webhook"),
    ("Audit", "/admin/audit", "scroll-text"),
]

SHORTCUTS = [
    ("j / k", "next / previous request in the queue"),
    ("Enter", "open the selected request (inbox)"),
    ("a", "approve (with the comment typed, if any)"),
    ("r", "reject (needs a comment)"),
    ("c", "request changes (needs a comment)"),
    ("e", "edit the plan, then approve"),
    ("?", "show this help"),
    ("Esc", "leave a text field, close a dialog"),
]


def _nav_link(label: str, href: str, icon: str) -> rx.Component:
    badge = (
        rx.cond(
            PendingQueue.count > 0,
            rx.badge(
                PendingQueue.count,
                color_scheme="amber",
                variant="solid",
                radius="full",
                data_testid="pending-count",
            ),
        )
        if href == "/approvals"
        else rx.fragment()
    )
    return rx.link(
        inline(rx.icon(icon, size=16), rx.text(label, size="2"), badge),
        href=href,
        underline="none",
        class_name="nav-link",
        data_nav=label.lower(),
    )


def shortcuts_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.icon_button(
                rx.icon("keyboard", size=16),
                variant="ghost",
                aria_label="Keyboard shortcuts",
                title="Keyboard shortcuts (?)",
                data_shortcut="?",
            )
        ),
        rx.dialog.content(
            rx.dialog.title("Keyboard shortcuts"),
            rx.el.table(
                rx.el.tbody(
                    *[
                        rx.el.tr(
                            rx.el.td(rx.code(keys), padding_right="1em"),
                            rx.el.td(rx.text(what, size="2")),
                        )
                        for keys, what in SHORTCUTS
                    ]
                ),
                data_testid="shortcut-help",
            ),
            muted("Shortcuts never fire while you type in a text field.", margin_top="1em"),
            rx.dialog.close(rx.button("Close", variant="soft", margin_top="1em")),
            max_width="440px",
        ),
    )


def top_bar() -> rx.Component:
    return inline(
        rx.link(
            inline(rx.icon("waypoints", size=20), rx.heading("Threadline", size="4")),
            href="/",
            underline="none",
            color="inherit",
        ),
        inline(
            *[_nav_link(*item) for item in NAV],
            rx.cond(
                AuthState.is_admin,
                inline(
                    muted("Admin", weight="medium"),
                    *[_nav_link(*item) for item in ADMIN_NAV],
                    spacing="3",
                    class_name="nav-admin",
                    data_testid="nav-admin",
                ),
            ),
            spacing="4",
            class_name="nav-links",
        ),
        rx.spacer(),
        inline(
            shortcuts_dialog(),
            rx.color_mode.button(variant="ghost", size="2"),
            rx.text(
                AuthState.person_name,
                size="2",
                class_name="hide-narrow",
                title=AuthState.person_email,
            ),
            rx.badge(
                AuthState.person_role,
                variant="outline",
                class_name="hide-narrow",
                data_testid="person-role",
            ),
            soft_button(
                rx.icon("log-out", size=14),
                "Sign out",
                size="1",
                on_click=AuthState.sign_out,
                data_testid="sign-out",
            ),
            spacing="3",
        ),
        class_name="top-bar",
        spacing="4",
        wrap="wrap",
    )


def public_card(*children: rx.Component, subtitle: str = "") -> rx.Component:
    """The frame of the pages used before signing in (/setup, /set-password)."""
    return rx.center(
        rx.card(
            rx.vstack(
                inline(
                    rx.icon("waypoints", size=24),
                    rx.heading("Threadline", size="6"),
                    rx.spacer(),
                    rx.color_mode.button(variant="ghost", size="1"),
                    width="100%",
                ),
                rx.text(subtitle, color_scheme="gray", size="2") if subtitle else rx.fragment(),
                *children,
                spacing="4",
                width="100%",
            ),
            width="100%",
            max_width="440px",
            size="4",
        ),
        class_name="public-page",
    )


def page_frame(*children: rx.Component) -> rx.Component:
    return rx.box(
        top_bar(),
        rx.box(*children, class_name="page-body"),
        class_name="page-frame",
    )


def signed_in_page(page_load) -> list:
    """on_load for a signed-in page: the auth check first, then the page's own load."""
    return [AuthState.require_signed_in, page_load]


def admin_frame(state: type[AuthState], content: rx.Component) -> rx.Component:
    """An admin page: `content` for admins, "not allowed" once `state.denied` (see
    ui.admin_only)."""
    return page_frame(admin_only(state.denied, state.is_admin, content))


def add_admin_page(app: rx.App, state: type[AuthState], content, route: str, title: str) -> None:
    """Registers an admin page: `content()` in admin_frame, loaded by `state.load` after the
    auth check."""

    def page() -> rx.Component:
        return admin_frame(state, content())

    add_signed_in(app, page, route, title, state.load)


def add_signed_in(app: rx.App, page, route: str, title: str, page_load) -> None:
    """Registers a signed-in page: its route, its tab title ("<title> · Threadline"), and its
    load after the auth check."""
    app.add_page(
        page, route=route, title=f"{title} · Threadline", on_load=signed_in_page(page_load)
    )
