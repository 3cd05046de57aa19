"""The pieces every list page is made of (threads, artifacts, admin users, keys, webhooks and
audit, decided approvals): the one-line form (filters, or an admin page's "create"), the table,
and the list body with its empty, loading and "Load more" states. A paged list's body reads its
state's `rows`, `loading`, `done`, `more` (and `filtered`) itself: the paging is
app/paging.PagedList."""

from __future__ import annotations

import reflex as rx

from app.components.ui import empty_state, inline, loading_block, soft_button

NO_MATCH_HINT = "Loosen the filters or clear them."


def icon_button(icon: str, label: str, **props) -> rx.Component:
    """A button with a small icon before its label (page actions, submits)."""
    return rx.button(rx.icon(icon, size=14), label, **props)


def submit_button(icon: str, label: str) -> rx.Component:
    return icon_button(icon, label, type="submit", variant="soft")


def inline_form(*controls: rx.Component, on_submit, form_key: rx.Var, **props) -> rx.Component:
    """Controls on one wrapping line, submitted together; `form_key` is bumped by the state to
    remount the form with empty fields (after "Clear", after a create)."""
    return rx.form(
        inline(*controls, wrap="wrap"),
        on_submit=on_submit,
        key=form_key,
        width="100%",
        **props,
    )


def filter_input(
    name: str, label: str, placeholder: str, value: rx.Var, width: str | None = "12em", **props
) -> rx.Component:
    """A filter's field: `name` in the submitted form, showing the filter's current `value`."""
    if placeholder:
        props["placeholder"] = placeholder
    if width is not None:
        props["width"] = width
    return rx.input(name=name, default_value=value, aria_label=label, **props)


def filter_bar(
    *fields: rx.Component,
    state: type[rx.State],
    on_submit,
    on_clear=None,
    submit: rx.Component | None = None,
    **props,
) -> rx.Component:
    """The filter form of a paged list's `state`: its fields, a submit button and (while
    `state.filtered`) "Clear"."""
    controls = [*fields, submit if submit is not None else submit_button("search", "Search")]
    if on_clear is not None:
        controls.append(
            rx.cond(
                state.filtered,
                rx.button("Clear", type="button", variant="ghost", on_click=on_clear),
            )
        )
    return inline_form(*controls, on_submit=on_submit, form_key=state.form_key, **props)


def data_table(headers: list, rows: rx.Var, row, **props) -> rx.Component:
    """A surface table of `rows`, one `row(var)` each; `headers` are names or header cells."""
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(header) if isinstance(header, str) else header
                        for header in headers
                    ]
                )
            ),
            rx.table.body(rx.foreach(rows, row)),
            width="100%",
            variant="surface",
        ),
        class_name="data-table",
        **props,
    )


def load_more(state: type[rx.State], *, centered: bool = True) -> rx.Component:
    button = soft_button("Load more", on_click=state.more, loading=state.loading)
    return rx.cond(~state.done, rx.center(button, padding="1em") if centered else button)


def listing_or_empty(
    rows: rx.Var, loading: rx.Var, listing: rx.Component, empty: rx.Component
) -> rx.Component:
    """The listing once there are rows; else a spinner while loading, else `empty`."""
    return rx.cond(rows.length() > 0, listing, rx.cond(loading, loading_block(), empty))


def list_body(
    state: type[rx.State],
    listing: rx.Component,
    empty: rx.Component,
    *,
    no_match: str = "",
    centered: bool = True,
) -> list[rx.Component]:
    """A paged list's listing, spinner, "no match" (`no_match`, while `state.filtered`) or the
    page's empty state; then "Load more" while there are more pages."""
    nothing = empty
    if no_match:
        nothing = rx.cond(
            state.filtered, empty_state(no_match, NO_MATCH_HINT, icon="search-x"), empty
        )
    return [
        listing_or_empty(state.rows, state.loading, listing, nothing),
        load_more(state, centered=centered),
    ]
