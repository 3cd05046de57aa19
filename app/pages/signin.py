"""/signin: email and password; the token goes into a cookie, nothing else about the person."""

from __future__ import annotations

import reflex as rx

from api import clients
from api.services import signin
from app.components.ui import inline, wide_submit
from app.state import CONSOLE_ROLES, AuthState, safe_next


class SigninState(AuthState):
    error: str = ""
    too_many: bool = False
    busy: bool = False

    @rx.event
    def check_already_signed_in(self):
        if self._caller() is not None:
            return rx.redirect(safe_next(self.router.url.query_parameters.get("next")))
        return None

    @rx.event
    async def submit(self, form_data: dict):
        email = str(form_data.get("email", "")).strip()
        password = str(form_data.get("password", ""))
        self.error, self.too_many = "", False
        if not email or not password:
            self.error = "Enter your email and password."
            return
        self.busy = True
        yield
        try:
            session = await signin.sign_in(
                email,
                password,
                ip=clients.from_router(self.router),
                user_agent=self.router.headers.user_agent or None,
            )
        except signin.TooManyAttempts as exc:
            self.error, self.too_many = str(exc), True
            return
        except (signin.SignInFailed, signin.BadSignInInput) as exc:
            self.error = str(exc)
            return
        finally:
            self.busy = False
        if session.role not in CONSOLE_ROLES:
            await signin.sign_out(session.token)
            self.error = (
                "This console is for reviewers, viewers and admins. Ask an admin for access."
            )
            return
        yield self._signed_in(
            session.token, safe_next(self.router.url.query_parameters.get("next"))
        )


def signin_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                inline(rx.icon("waypoints", size=24), rx.heading("Threadline", size="6")),
                rx.text("Sign in to review agent plans.", color_scheme="gray", size="2"),
                rx.form(
                    rx.vstack(
                        rx.text("Email", as_="label", size="2", weight="medium", html_for="email"),
                        rx.input(
                            id="email",
                            name="email",
                            type="email",
                            placeholder="you@example.com",
                            auto_complete="username",
                            required=True,
                            width="100%",
                            size="3",
                            auto_focus=True,
                        ),
                        rx.text(
                            "Password", as_="label", size="2", weight="medium", html_for="password"
                        ),
                        rx.input(
                            id="password",
                            name="password",
                            type="password",
                            auto_complete="current-password",
                            required=True,
                            width="100%",
                            size="3",
                        ),
                        rx.cond(
                            SigninState.error != "",
                            rx.callout(
                                SigninState.error,
                                icon=rx.cond(SigninState.too_many, "timer", "triangle-alert"),
                                color_scheme=rx.cond(SigninState.too_many, "orange", "red"),
                                width="100%",
                                role="alert",
                                data_testid="signin-error",
                            ),
                        ),
                        wide_submit("Sign in", SigninState.busy),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=SigninState.submit,
                    width="100%",
                ),
                rx.flex(rx.spacer(), rx.color_mode.button(variant="ghost", size="1"), width="100%"),
                spacing="4",
                width="100%",
            ),
            width="100%",
            max_width="400px",
            size="4",
        ),
        min_height="100vh",
        padding="1em",
    )
