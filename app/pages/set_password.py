"""/set-password?token=...: a one-time link an admin gave someone (new account or reset). Shows
whose account it is, sets the password, signs them in and goes to /approvals."""

from __future__ import annotations

import reflex as rx

from api.errors import FunctionError
from api.services import links, signin
from app.components.layout import public_card
from app.components.ui import (
    field_row,
    form_error,
    loading_block,
    new_password_fields,
    notice,
    wide_submit,
)
from app.routes import SET_PASSWORD
from app.state import CONSOLE_ROLES, LINK_SIGNIN_ERRORS, AuthState, error_toast, passwords_differ


class SetPasswordState(AuthState):
    # checking, form, invalid (used, replaced or expired), elsewhere (set; not a console role)
    phase: str = "checking"
    account_email: str = ""
    account_name: str = ""
    purpose: str = ""
    error: str = ""
    busy: bool = False

    def _token(self) -> str:
        return self.router.url.query_parameters.get("token", "")

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

    @rx.event
    async def submit(self, form_data: dict):
        self.error = passwords_differ(form_data)
        if self.error:
            return
        self.busy = True
        yield
        password = str(form_data.get("password", ""))
        try:
            email = await links.redeem_password_link(self._token(), password)
            session = await self._sign_in_after_link(email, password)
        except FunctionError as exc:
            self.error = str(exc)
            if links.password_link_info(self._token()) is None:
                self.check()
            return
        except LINK_SIGNIN_ERRORS as exc:
            yield error_toast(exc)
            return
        finally:
            self.busy = False
        if session.role not in CONSOLE_ROLES:
            # End users sign in to the chat app built on the API, not to this console.
            await signin.sign_out(session.token)
            self.phase = "elsewhere"
            return
        yield self._signed_in(session.token, "/approvals")


def _form() -> rx.Component:
    return rx.form(
        rx.vstack(
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
            form_error(SetPasswordState.error, "set-password-error"),
            wide_submit("Set password and sign in", SetPasswordState.busy),
            spacing="3",
            width="100%",
        ),
        on_submit=SetPasswordState.submit,
        width="100%",
        data_testid="set-password-form",
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
    return public_card(
        rx.heading("Set your password", size="4", as_="h1"),
        rx.match(
            SetPasswordState.phase,
            ("form", _form()),
            ("invalid", _invalid()),
            ("elsewhere", _elsewhere()),
            loading_block(),
        ),
    )


def add(app: rx.App) -> None:
    app.add_page(
        set_password_page,
        route=SET_PASSWORD,
        title="Set your password · Threadline",
        on_load=SetPasswordState.check,
    )
