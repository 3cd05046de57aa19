"""/setup?token=...: first run. With the link `threadline first-run` printed (and while no admin
exists), creates the first admin, signs them in and goes to /admin/users.

The page shows the form only for a live setup link; api.services.links.complete_setup checks the
link and that no admin exists again, in the transaction that creates the admin.
"""

from __future__ import annotations

import reflex as rx

from api.errors import FunctionError
from api.services import links
from app.components.layout import public_card
from app.components.ui import (
    form_error,
    labelled_input,
    loading_block,
    new_password_fields,
    notice,
    wide_submit,
)
from app.routes import SETUP
from app.state import LINK_SIGNIN_ERRORS, AuthState, error_toast, passwords_differ


class SetupState(AuthState):
    # checking, form, invalid (link used, replaced or expired), done (an admin exists)
    phase: str = "checking"
    error: str = ""
    busy: bool = False

    def _token(self) -> str:
        return self.router.url.query_parameters.get("token", "")

    @rx.event
    def check(self):
        self.error, self.busy = "", False
        if links.admin_exists():
            self.phase = "done"
        elif links.setup_link_is_valid(self._token()):
            self.phase = "form"
        else:
            self.phase = "invalid"

    @rx.event
    async def submit(self, form_data: dict):
        self.error = passwords_differ(form_data)
        if self.error:
            return
        self.busy = True
        yield
        email = str(form_data.get("email", "")).strip()
        password = str(form_data.get("password", ""))
        try:
            await links.complete_setup(
                self._token(), email, str(form_data.get("name", "")), password
            )
            session = await self._sign_in_after_link(email, password)
        except FunctionError as exc:
            self.error = str(exc)
            if not links.setup_link_is_valid(self._token()):
                self.check()
            return
        except LINK_SIGNIN_ERRORS as exc:
            yield error_toast(exc)
            return
        finally:
            self.busy = False
        yield self._signed_in(session.token, "/admin/users")


def _form() -> rx.Component:
    return rx.form(
        rx.vstack(
            labelled_input(
                "Your email",
                "email",
                type="email",
                placeholder="you@example.com",
                auto_complete="username",
                required=True,
                auto_focus=True,
            ),
            labelled_input("Your name", "name", auto_complete="name", required=True),
            *new_password_fields("Password"),
            form_error(SetupState.error, "setup-error"),
            wide_submit("Create the admin account", SetupState.busy),
            spacing="3",
            width="100%",
        ),
        on_submit=SetupState.submit,
        width="100%",
        data_testid="setup-form",
    )


def _invalid() -> rx.Component:
    return notice(
        "link-2-off",
        "red",
        "setup-invalid",
        "This setup link is not valid (used, replaced or expired). Run ",
        rx.code("make run"),
        " (or ",
        rx.code("threadline first-run"),
        ") again to print a new one. If an admin already exists, ",
        rx.link("sign in", href="/signin"),
        " instead.",
    )


def _done() -> rx.Component:
    return notice(
        "circle-check",
        "green",
        "setup-done",
        "Setup is done: this instance has an admin. ",
        rx.link("Sign in", href="/signin"),
        "; admins add people under Admin → Users.",
    )


def setup_page() -> rx.Component:
    return public_card(
        rx.heading("First run", size="4", as_="h1"),
        rx.match(
            SetupState.phase,
            ("form", _form()),
            ("invalid", _invalid()),
            ("done", _done()),
            loading_block(),
        ),
        subtitle="Create the first admin account of this Threadline instance.",
    )


def add(app: rx.App) -> None:
    app.add_page(setup_page, route=SETUP, title="First run · Threadline", on_load=SetupState.check)
