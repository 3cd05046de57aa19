"""/setup?token=...: first run. With the link `threadline first-run` printed (and while no admin
exists), creates the first admin, signs them in and goes to /admin/users.

The page shows the form only for a live setup link; api.services.links.complete_setup checks the
link and that no admin exists again, in the transaction that creates the admin. The link flow is
app/link_page.py's.
"""

from __future__ import annotations

import reflex as rx

from api.services import links, signin
from app.components.ui import labelled_input, new_password_fields, notice
from app.link_page import LinkPage, link_page, password_form
from app.routes import SETUP
from app.state import AuthState


class SetupState(LinkPage, AuthState):
    """phase: checking, form, invalid (link used, replaced or expired), done (an admin exists)."""

    def _link_is_live(self) -> bool:
        return links.setup_link_is_valid(self._token())

    @rx.event
    def check(self):
        self.error, self.busy = "", False
        if links.admin_exists():
            self.phase = "done"
        elif self._link_is_live():
            self.phase = "form"
        else:
            self.phase = "invalid"

    async def _redeem(self, form_data: dict, password: str) -> str:
        email = str(form_data.get("email", "")).strip()
        await links.complete_setup(self._token(), email, str(form_data.get("name", "")), password)
        return email

    async def _signed_in_to(self, session: signin.SignedIn) -> rx.event.EventSpec | None:
        return self._signed_in(session.token, "/admin/users")


def _form() -> rx.Component:
    return password_form(
        SetupState,
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
        submit="Create the admin account",
        test_id="setup",
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
    return link_page(
        SetupState,
        "First run",
        {"form": _form(), "invalid": _invalid(), "done": _done()},
        subtitle="Create the first admin account of this Threadline instance.",
    )


def add(app: rx.App) -> None:
    app.add_page(setup_page, route=SETUP, title="First run · Threadline", on_load=SetupState.check)
