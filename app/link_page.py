"""`LinkPage`: what the pages opened through a one-time link share (/setup, /set-password). The
link's token is in the URL (?token=…); `check` (the page's on_load) sets `phase` ("form" for a
live link, "invalid" or the page's own end otherwise); `submit` checks the two passwords match,
redeems the link with the page's function (`_redeem`), signs the person in and hands the session
to the page (`_signed_in_to`). A refusal shows under the form, and when the link died meanwhile
the page checks it again; a busy database or a refused sign-in ends in a toast.

The components: `password_form` (the form's fields, its error and its submit) and `link_page`
(the public card with one view per phase)."""

from __future__ import annotations

import reflex as rx

from api.errors import FunctionError
from api.services import signin
from app.components.layout import public_card
from app.components.ui import form_error, loading_block, wide_submit
from app.state import LINK_SIGNIN_ERRORS, error_toast, passwords_differ


class LinkPage(rx.State, mixin=True):
    # checking, form, invalid (used, replaced or expired), or the page's own end
    phase: str = "checking"
    error: str = ""
    busy: bool = False

    def _token(self) -> str:
        return self.router.url.query_parameters.get("token", "")

    def _link_is_live(self) -> bool:
        raise NotImplementedError

    async def _redeem(self, form_data: dict, password: str) -> str:
        """Redeems the link with `password`; the email to sign in with."""
        raise NotImplementedError

    async def _signed_in_to(self, session: signin.SignedIn) -> rx.event.EventSpec | None:
        """Where the signed-in person goes (None: they stay, on the page's end phase)."""
        raise NotImplementedError

    @rx.event
    async def submit(self, form_data: dict):
        self.error = passwords_differ(form_data)
        if self.error:
            return
        self.busy = True
        yield
        password = str(form_data.get("password", ""))
        try:
            email = await self._redeem(form_data, password)
            session = await self._sign_in_after_link(email, password)
        except FunctionError as exc:
            self.error = str(exc)
            if not self._link_is_live():
                self.check()
            return
        except LINK_SIGNIN_ERRORS as exc:
            yield error_toast(exc)
            return
        finally:
            self.busy = False
        yield await self._signed_in_to(session)


def password_form(
    state: type[LinkPage], *fields: rx.Component, submit: str, test_id: str
) -> rx.Component:
    """The link page's form: `fields`, the error of the last try, and the submit button."""
    return rx.form(
        rx.vstack(
            *fields,
            form_error(state.error, f"{test_id}-error"),
            wide_submit(submit, state.busy),
            spacing="3",
            width="100%",
        ),
        on_submit=state.submit,
        width="100%",
        data_testid=f"{test_id}-form",
    )


def link_page(
    state: type[LinkPage], heading: str, views: dict[str, rx.Component], subtitle: str = ""
) -> rx.Component:
    """The public card: `heading`, then the view of the current phase (a spinner while
    checking)."""
    return public_card(
        rx.heading(heading, size="4", as_="h1"),
        rx.match(state.phase, *views.items(), loading_block()),
        subtitle=subtitle,
    )
