"""/admin/users (admins): people, searchable and filtered by role and status, keyset-paged;
create a person (with an initial password or a one-time link), change a role, disable or
re-enable (nothing is deleted), and make a password-reset link.

One-time links are shown once, in this tab only, until dismissed. The server enforces the rules
(last active admin, password policy, admins only); its refusals come back as toasts.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from api.errors import FunctionError, Unavailable
from api.vocabulary import REVIEWER
from api.vocabulary import ROLES as PERSON_ROLES
from app.components.layout import add_admin_page
from app.components.lists import data_table, filter_bar, filter_input, icon_button, list_body
from app.components.ui import (
    choice,
    confirm_dialog,
    empty_state,
    form_error,
    labelled_input,
    muted,
    page_header,
    shown_once,
    soft_button,
)
from app.formatting import when
from app.paging import PagedList
from app.routes import ADMIN_USERS
from app.rows import UserRow
from app.state import AdminOnly, AuthState, NotSignedIn, error_toast

ROLES = list(PERSON_ROLES)
ROLE_FILTERS = ["any role", *ROLES]
STATUS_FILTERS = ["active and disabled", "active", "disabled"]
CREATE_MODES = ["link", "password"]


class AdminUsersState(PagedList, AuthState):
    rows: list[UserRow] = []
    denied: bool = False
    search: str = ""
    role_filter: str = "any role"
    status_filter: str = "active and disabled"

    create_open: bool = False
    create_mode: str = "link"
    create_error: str = ""
    creating: bool = False

    # The one-time link last made in this tab (shown once, until dismissed).
    link_url: str = ""
    link_note: str = ""

    # The disable / re-enable waiting for confirmation.
    confirm_open: bool = False
    confirm_user_id: str = ""
    confirm_name: str = ""
    confirm_disable: bool = True

    @rx.var
    def filtered(self) -> bool:
        return bool(
            self.search
            or self.role_filter != ROLE_FILTERS[0]
            or self.status_filter != STATUS_FILTERS[0]
        )

    def _opened(self) -> None:
        """A link shown earlier is not shown again (not even on reload)."""
        self.link_url, self.link_note = "", ""

    @rx.event
    def apply_search(self, form_data: dict):
        self.search = str(form_data.get("search", "")).strip()[:200]
        return AdminUsersState.refresh

    @rx.event
    def set_role_filter(self, value: str):
        self.role_filter = value if value in ROLE_FILTERS else ROLE_FILTERS[0]
        return AdminUsersState.refresh

    @rx.event
    def set_status_filter(self, value: str):
        self.status_filter = value if value in STATUS_FILTERS else STATUS_FILTERS[0]
        return AdminUsersState.refresh

    @rx.event
    def clear_filters(self):
        self.search, self.role_filter, self.status_filter = "", ROLE_FILTERS[0], STATUS_FILTERS[0]
        self.form_key += 1
        return AdminUsersState.refresh

    def _filter_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        if self.search:
            args["search"] = self.search
        if self.role_filter in ROLES:
            args["role"] = self.role_filter
        if self.status_filter != STATUS_FILTERS[0]:
            args["disabled"] = self.status_filter == "disabled"
        return args

    async def _page(self, args: dict[str, Any]):
        result = await self._admin_call("users:list", args)
        self.denied = False
        return result, [UserRow.of(doc) for doc in result["page"]]

    async def _run(self, path: str, args: dict[str, Any]):
        """An admin mutation; yields (event, None) on failure or (None, result) on success."""
        try:
            return None, await self._admin_call(path, args)
        except NotSignedIn:
            return self._to_signin(), None
        except AdminOnly:
            self.denied = True
            return rx.toast.error("Only admins manage people."), None
        except (FunctionError, Unavailable) as exc:
            return error_toast(exc), None

    def _show_link(self, issued: dict[str, Any], name: str) -> None:
        self.link_url = self.router.url.origin + issued["path"]
        kind = "password reset" if issued["purpose"] == "reset_password" else "set-password"
        self.link_note = (
            f"One-time {kind} link for {name}. Send it to them privately; it works once, until "
            f"{when(issued['expiresTime'])} (24 hours), and is not shown again."
        )

    # ---- create ----------------------------------------------------------------------------

    @rx.event
    def open_create(self):
        self.create_open, self.create_error, self.create_mode = True, "", "link"

    @rx.event
    def set_create_open(self, value: bool):
        self.create_open = bool(value)

    @rx.event
    def set_create_mode(self, value: str):
        self.create_mode = value if value in CREATE_MODES else "link"

    @rx.event
    async def create(self, form_data: dict):
        self.create_error = ""
        role = str(form_data.get("role", REVIEWER))
        args: dict[str, Any] = {
            "email": str(form_data.get("email", "")).strip(),
            "name": str(form_data.get("name", "")).strip(),
            "role": role if role in ROLES else REVIEWER,
        }
        if self.create_mode == "password":
            args["password"] = str(form_data.get("password", ""))
        self.creating = True
        yield
        user_id = None
        try:
            user_id = await self._admin_call("users:create", args)
            issued = None
            if self.create_mode == "link":
                issued = await self._admin_call("users:passwordLink", {"userId": user_id})
        except (FunctionError, Unavailable) as exc:
            if user_id is None:
                self.create_error = str(exc) or exc.__class__.__name__
                return
            # Created, but no link yet: the row's "Password link" makes one.
            self.create_open = False
            yield error_toast(exc)
            yield rx.toast.warning(f"Added {args['email']}; make their link with Password link.")
            yield AdminUsersState.refresh
            return
        except NotSignedIn:
            yield self._to_signin()
            return
        except AdminOnly:
            self.denied, self.create_open = True, False
            return
        finally:
            self.creating = False
        self.create_open = False
        if issued is not None:
            self._show_link(issued, args["name"])
        yield rx.toast.success(f"Added {args['email']}.")
        yield AdminUsersState.refresh

    # ---- change role, disable, links --------------------------------------------------------

    @rx.event
    async def set_role(self, user_id: str, role: str):
        if role not in ROLES:
            return
        failure, _ = await self._run("users:setRole", {"userId": user_id, "role": role})
        if failure is not None:
            yield failure
            return
        yield rx.toast.success(f"Role changed to {role}.")
        yield AdminUsersState.refresh

    @rx.event
    def ask_disabled(self, user_id: str, name: str, disable: bool):
        self.confirm_user_id, self.confirm_name = user_id, name
        self.confirm_disable, self.confirm_open = bool(disable), True

    @rx.event
    def cancel_disabled(self):
        self.confirm_open = False

    @rx.event
    async def apply_disabled(self):
        self.confirm_open = False
        failure, _ = await self._run(
            "users:setDisabled",
            {"userId": self.confirm_user_id, "disabled": self.confirm_disable},
        )
        if failure is not None:
            yield failure
            return
        done = "Disabled (and signed out)" if self.confirm_disable else "Re-enabled"
        yield rx.toast.success(f"{done}: {self.confirm_name}.")
        yield AdminUsersState.refresh

    @rx.event
    async def password_link(self, user_id: str, name: str):
        failure, issued = await self._run("users:passwordLink", {"userId": user_id})
        if failure is not None:
            yield failure
            return
        self._show_link(issued, name)

    @rx.event
    def dismiss_link(self):
        self.link_url, self.link_note = "", ""


def _row(row: rx.Var) -> rx.Component:
    user_id = row._id
    name = row.name
    disabled = row.disabled
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(name, weight="medium", size="2"),
                muted(row.email, class_name="wrap-anywhere"),
                spacing="0",
            )
        ),
        rx.table.cell(
            choice(
                ROLES,
                row.role,
                lambda role: AdminUsersState.set_role(user_id, role),
                "Role",
                test_id="role-select",
                size="1",
            )
        ),
        rx.table.cell(
            rx.cond(
                disabled,
                rx.badge("disabled", color_scheme="gray", variant="soft"),
                rx.badge("active", color_scheme="green", variant="soft"),
            )
        ),
        rx.table.cell(muted(row.createdText), class_name="hide-narrow"),
        rx.table.cell(
            rx.flex(
                rx.cond(
                    disabled,
                    soft_button(
                        "Re-enable",
                        size="1",
                        on_click=AdminUsersState.ask_disabled(user_id, name, False),
                        data_testid="enable",
                    ),
                    rx.fragment(
                        soft_button(
                            rx.icon("link", size=12),
                            "Password link",
                            size="1",
                            on_click=AdminUsersState.password_link(user_id, name),
                            data_testid="password-link",
                        ),
                        soft_button(
                            "Disable",
                            size="1",
                            color_scheme="red",
                            on_click=AdminUsersState.ask_disabled(user_id, name, True),
                            data_testid="disable",
                        ),
                    ),
                ),
                spacing="2",
                wrap="wrap",
            )
        ),
        data_testid="user-row",
        data_email=row.email,
    )


def _create_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Add a person"),
            rx.form(
                rx.vstack(
                    labelled_input("Email", "email", type="email", required=True),
                    labelled_input("Name", "name", required=True),
                    rx.text("Role", as_="label", size="2", weight="medium"),
                    rx.select(
                        ROLES,
                        name="role",
                        default_value=REVIEWER,
                        aria_label="Role",
                        data_testid="new-role",
                    ),
                    rx.radio_group.root(
                        rx.vstack(
                            rx.radio_group.item("Give them a one-time link (24 h)", value="link"),
                            rx.radio_group.item("Set an initial password", value="password"),
                            spacing="2",
                        ),
                        value=AdminUsersState.create_mode,
                        on_change=AdminUsersState.set_create_mode,
                        aria_label="How they get a password",
                    ),
                    rx.cond(
                        AdminUsersState.create_mode == "password",
                        labelled_input(
                            "Initial password (8–72 bytes)",
                            "password",
                            type="password",
                            auto_complete="new-password",
                            required=True,
                            min_length=8,
                        ),
                    ),
                    form_error(AdminUsersState.create_error, "create-error"),
                    rx.flex(
                        rx.dialog.close(
                            rx.button("Cancel", type="button", variant="soft", color_scheme="gray")
                        ),
                        rx.button("Add", type="submit", loading=AdminUsersState.creating),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=AdminUsersState.create,
                width="100%",
                data_testid="create-form",
            ),
            max_width="460px",
        ),
        open=AdminUsersState.create_open,
        on_open_change=AdminUsersState.set_create_open,
    )


def _filters() -> rx.Component:
    return filter_bar(
        filter_input(
            "search",
            "Search",
            "Search name or email",
            AdminUsersState.search,
            "16em",
            max_width="100%",
        ),
        choice(
            ROLE_FILTERS,
            AdminUsersState.role_filter,
            AdminUsersState.set_role_filter,
            "Role filter",
            test_id="role-filter",
        ),
        choice(
            STATUS_FILTERS,
            AdminUsersState.status_filter,
            AdminUsersState.set_status_filter,
            "Status filter",
            test_id="status-filter",
        ),
        on_submit=AdminUsersState.apply_search,
        state=AdminUsersState,
        on_clear=AdminUsersState.clear_filters,
        margin_bottom="1em",
    )


def _table() -> rx.Component:
    headers = [
        "Person",
        "Role",
        "Status",
        rx.table.column_header_cell("Added", class_name="hide-narrow"),
        "",
    ]
    return data_table(headers, AdminUsersState.rows, _row, data_testid="users-table")


def _content() -> rx.Component:
    return rx.fragment(
        page_header(
            "Users",
            icon_button(
                "user-plus",
                "Add person",
                on_click=AdminUsersState.open_create,
                data_testid="add-person",
            ),
            subtitle="Who may sign in, and as what. Disabling ends their sessions at once.",
        ),
        shown_once(
            "Copy this link now",
            AdminUsersState.link_url,
            AdminUsersState.link_note,
            AdminUsersState.dismiss_link,
            "one-time-link",
        ),
        _filters(),
        *list_body(
            AdminUsersState,
            _table(),
            empty_state("Nobody yet", "Add the first reviewer with Add person.", "users"),
            no_match="Nobody matches",
        ),
        _create_dialog(),
        confirm_dialog(
            AdminUsersState.confirm_open,
            rx.cond(
                AdminUsersState.confirm_disable,
                "Disable " + AdminUsersState.confirm_name + "?",
                "Re-enable " + AdminUsersState.confirm_name + "?",
            ),
            rx.cond(
                AdminUsersState.confirm_disable,
                "They are signed out everywhere at once and cannot sign in until re-enabled. "
                "Nothing is deleted.",
                "They can sign in again with their password.",
            ),
            "Confirm",
            AdminUsersState.apply_disabled,
            AdminUsersState.cancel_disabled,
            "confirm-disabled",
        ),
    )


def add(app: rx.App) -> None:
    add_admin_page(app, AdminUsersState, _content, ADMIN_USERS, "Users")
