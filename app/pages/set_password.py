"""/set-password?token=...: a one-time link an admin gave someone (new account or reset). Shows
whose account it is, sets the password, signs them in and goes to /approvals (the link flow is
app/link_page.py's)."""

from __future__ import annotations

import reflex as rx

from api.services import links, signin
from app.components.ui import field_row, new_password_fields, notice
from app.link_page import LinkPage, link_page, password_form
from app.routes import SET_PASSWORD
from app.state import CONSOLE_ROLES, AuthState


class SetPasswordState(LinkPage, AuthState):
    """phase: checking, form, invalid (used, replaced or expired), elsewhere (set; not a console
    role)."""

    account_email: str = ""
    account_name: str = ""
    purpose: str = ""

    def _link_is_live(self) -> bool:
        return links.password_link_info(self._token()) is not None

    @rx.event
    def check(self):
        self.error, self.busy = "", False
        info = links.password_link_info(self._token())
        if info is None:
            self.phase, self.account_email, self.account_name = "invalid", "", ""
            return
        self.phase = "form"
        self.account_email, self.account_name = info["email"], info["name"]
        self.purpose = info["purpose"]

    async def _redeem(self, form_data: dict, password: str) -> str:
        return await links.redeem_password_link(self._token(), password)

    async def _signed_in_to(self, session: signin.SignedIn) -> rx.event.EventSpec | None:
        if session.role not in CONSOLE_ROLES:
            # End users sign in to the chat app built on the API, not to this console.
            await signin.sign_out(session.token)
            self.phase = "elsewhere"
            return None
        return self._signed_in(session.token, "/approvals")


def _form() -> rx.Component:
    return password_form(
        SetPasswordState,
        rx.text(
            rx.cond(
                SetPasswordState.purpose == "reset_password",
                "Choose a new password for your account.",
                "Choose a password to finish setting up your account.",
            ),
            size="2",
        ),
        field_row("Name", SetPasswordState.account_name),
        rx.box(
            field_row("Email", SetPasswordState.account_email),
            data_testid="set-password-email",
        ),
        # For password managers: the account the new password belongs to.
        rx.el.input(
            type="hidden",
            name="username",
            value=SetPasswordState.account_email,
            auto_complete="username",
        ),
        *new_password_fields(),
        submit="Set password and sign in",
        test_id="set-password",
    )


def _invalid() -> rx.Component:
    return notice(
        "link-2-off",
        "red",
        "set-password-invalid",
        "This link is not valid (already used, replaced by a newer one, or older than "
        "24 hours). Ask an admin for a new link. Already have a password? ",
        rx.link("Sign in", href="/signin"),
        ".",
    )


def _elsewhere() -> rx.Component:
    return notice(
        "circle-check",
        "green",
        "set-password-elsewhere",
        "Your password is set. Use it to sign in to the chat app; this console is for "
        "reviewers, viewers and admins.",
    )


def set_password_page() -> rx.Component:
    return link_page(
        SetPasswordState,
        "Set your password",
        {"form": _form(), "invalid": _invalid(), "elsewhere": _elsewhere()},
    )


def add(app: rx.App) -> None:
    app.add_page(
        set_password_page,
        route=SET_PASSWORD,
        title="Set your password · Threadline",
        on_load=SetPasswordState.check,
    )
