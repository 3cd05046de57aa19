"""/account: who you are, changing your password, and your sign-in sessions (sign out one, or
every other)."""

from __future__ import annotations

import reflex as rx

from api.errors import FunctionError, Unavailable
from app.components.layout import add_signed_in, page_frame
from app.components.ui import (
    confirm_dialog,
    empty_state,
    field_row,
    form_error,
    inline,
    labelled_input,
    loading_block,
    muted,
    new_password_fields,
    page_header,
    relative_time,
    soft_button,
)
from app.routes import ACCOUNT
from app.rows import AuthSessionRow, UserRow
from app.state import AuthState, NotSignedIn, error_toast, passwords_differ


class AccountState(AuthState):
    me: UserRow | None = None
    sessions: list[AuthSessionRow] = []
    loading: bool = False
    password_error: str = ""
    changing: bool = False
    # Bumped after a password change so the form remounts empty.
    password_form_key: int = 0
    confirm_others: bool = False

    @rx.event
    async def load(self):
        self.loading = True
        yield
        async with self._caught("loading") as failed:
            me = await self._call("users:me", {})
            sessions = await self._call("authSessions:mine", {})
        if failed:
            yield failed.event
            return
        self.me = UserRow.of(me) if me else None
        self.sessions = [AuthSessionRow.of(session) for session in sessions]

    @rx.event
    async def change_password(self, form_data: dict):
        self.password_error = passwords_differ(form_data)
        if self.password_error:
            return
        self.changing = True
        yield
        try:
            await self._call(
                "users:changePassword",
                {
                    "currentPassword": str(form_data.get("current", "")),
                    "newPassword": str(form_data.get("password", "")),
                },
            )
        except NotSignedIn:
            yield self._to_signin()
            return
        except FunctionError as exc:
            self.password_error = str(exc)
            return
        except Unavailable as exc:
            yield error_toast(exc)
            return
        finally:
            self.changing = False
        self.password_form_key += 1
        yield rx.toast.success("Password changed. Your other sessions were signed out.")
        yield AccountState.load

    @rx.event
    async def sign_out_session(self, session_id: str):
        # Only a session of the signed-in person, and never this one (that is "Sign out").
        # authSessions:revoke refuses other people's sessions to non-admins; admins could end
        # anyone's, so the id is checked against the caller's own list first.
        async with self._caught() as failed:
            mine = await self._call("authSessions:mine", {})
            if not any(s["_id"] == session_id and not s["current"] for s in mine):
                yield rx.toast.error("That session is not one of your other sessions.")
                return
            await self._call("authSessions:revoke", {"sessionId": session_id})
        if failed:
            yield failed.event
            return
        yield rx.toast.success("Signed out that session.")
        yield AccountState.load

    @rx.event
    def ask_sign_out_others(self):
        self.confirm_others = True

    @rx.event
    def cancel_sign_out_others(self):
        self.confirm_others = False

    @rx.event
    async def sign_out_others(self):
        self.confirm_others = False
        async with self._caught() as failed:
            ended = await self._call("authSessions:revokeOthers", {})
        if failed:
            yield failed.event
            return
        plural = "" if ended == 1 else "s"
        yield rx.toast.success(f"Signed out {ended} other session{plural}.")
        yield AccountState.load


def _profile() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("You", size="3", as_="h2"),
            field_row("Name", AccountState.me.name),
            field_row("Email", AccountState.me.email),
            field_row("Role", rx.badge(AccountState.me.role, variant="outline")),
            field_row("Since", AccountState.me.createdText),
            spacing="2",
        ),
        width="100%",
        data_testid="account-profile",
    )


def _password_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Change password", size="3", as_="h2"),
                rx.el.input(
                    type="hidden",
                    name="username",
                    value=AccountState.person_email,
                    auto_complete="username",
                ),
                labelled_input(
                    "Current password",
                    "current",
                    type="password",
                    auto_complete="current-password",
                    required=True,
                ),
                *new_password_fields(),
                form_error(AccountState.password_error, "password-error"),
                rx.button("Change password", type="submit", loading=AccountState.changing),
                spacing="3",
                width="100%",
            ),
            on_submit=AccountState.change_password,
            key=AccountState.password_form_key,
            width="100%",
            data_testid="password-form",
        ),
        width="100%",
    )


def _session_row(session: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                inline(
                    rx.text(session.device, weight="medium", size="2"),
                    rx.cond(
                        session.current,
                        rx.badge("this session", color_scheme="green", data_testid="this-session"),
                    ),
                    wrap="wrap",
                ),
                muted(session.userAgent, class_name="clamp-2"),
                spacing="1",
            ),
        ),
        rx.table.cell(rx.text(session.ip, size="2", class_name="mono")),
        rx.table.cell(rx.text(session.createdText, size="2")),
        rx.table.cell(relative_time(session.lastSeenTimeIso)),
        rx.table.cell(
            rx.cond(
                session.current,
                rx.fragment(),
                soft_button(
                    "Sign out",
                    size="1",
                    color_scheme="red",
                    on_click=AccountState.sign_out_session(session._id),
                ),
            )
        ),
        data_testid="session-row",
    )


def _sessions() -> rx.Component:
    return rx.card(
        rx.vstack(
            inline(
                rx.heading("Signed-in sessions", size="3", as_="h2"),
                rx.spacer(),
                soft_button(
                    rx.icon("log-out", size=14),
                    "Sign out all other sessions",
                    size="2",
                    color_scheme="red",
                    disabled=AccountState.sessions.length() < 2,
                    on_click=AccountState.ask_sign_out_others,
                    data_testid="sign-out-others",
                ),
                width="100%",
                wrap="wrap",
            ),
            rx.cond(
                AccountState.sessions.length() > 0,
                rx.box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(name)
                                    for name in ("Device", "IP", "Signed in", "Last seen", "")
                                ]
                            )
                        ),
                        rx.table.body(rx.foreach(AccountState.sessions, _session_row)),
                        width="100%",
                        variant="surface",
                    ),
                    class_name="data-table",
                ),
                rx.cond(
                    AccountState.loading,
                    loading_block(),
                    empty_state("No sessions", "Sign in again to see this one.", icon="monitor"),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def account_page() -> rx.Component:
    return page_frame(
        page_header("Account", subtitle="Your profile, password and where you are signed in."),
        rx.cond(
            AccountState.me.is_not_none(),
            rx.grid(
                _profile(),
                _password_form(),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="4",
                width="100%",
            ),
            loading_block(),
        ),
        rx.box(_sessions(), margin_top="1em"),
        confirm_dialog(
            AccountState.confirm_others,
            "Sign out all other sessions?",
            "Every other browser and device signed in as you is signed out at once. "
            "This one stays signed in.",
            "Sign them out",
            AccountState.sign_out_others,
            AccountState.cancel_sign_out_others,
            "confirm-sign-out-others",
        ),
    )


def add(app: rx.App) -> None:
    add_signed_in(app, account_page, ACCOUNT, "Account", AccountState.load)
