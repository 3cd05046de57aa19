"""The pieces every list page is made of (threads, artifacts, admin users and audit, decided
approvals): the filter bar, the table, and the list body with its empty, loading and "Load more"
states. Pages pass their state's Vars and events; the paging itself is app/paging.PagedList."""

from __future__ import annotations

import reflex as rx

from app.components.ui import empty_state, loading_block

NO_MATCH_HINT = "Loosen the filters or clear them."


def filter_bar(
    *fields: rx.Component,
    on_submit,
    form_key: rx.Var | None = None,
    filtered: rx.Var | None = None,
    on_clear=None,
    submit: rx.Component | None = None,
    **props,
) -> rx.Component:
    """The filter form: its fields, a submit button and (while filtered) "Clear". `form_key`
    is bumped by the page's clear so the form remounts with empty fields."""
    controls = [*fields]
    controls.append(
        submit
        if submit is not None
        else rx.button(rx.icon("search", size=14), "Search", type="submit", variant="soft")
    )
    if on_clear is not None:
        controls.append(
            rx.cond(
                filtered,
                rx.button("Clear", type="button", variant="ghost", on_click=on_clear),
            )
        )
    form_props = {"key": form_key} if form_key is not None else {}
    return rx.form(
        rx.flex(*controls, spacing="2", wrap="wrap", align="center"),
        on_submit=on_submit,
        width="100%",
        **form_props,
        **props,
    )


def submit_button(icon: str, label: str) -> rx.Component:
    return rx.button(rx.icon(icon, size=14), label, type="submit", variant="soft")


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


def load_more(done: rx.Var, loading: rx.Var, on_more, *, centered: bool = True) -> rx.Component:
    button = rx.button("Load more", on_click=on_more, loading=loading, variant="soft")
    return rx.cond(~done, rx.center(button, padding="1em") if centered else button)


def list_body(
    rows: rx.Var,
    loading: rx.Var,
    done: rx.Var,
    on_more,
    listing: rx.Component,
    empty: rx.Component,
    *,
    filtered: rx.Var | None = None,
    no_match: str = "",
    centered: bool = True,
) -> list[rx.Component]:
    """The listing once there are rows; else a spinner while loading, else "no match" (when
    filtered) or the page's empty state; then "Load more" while there are more pages."""
    nothing = empty
    if filtered is not None:
        nothing = rx.cond(filtered, empty_state(no_match, NO_MATCH_HINT, icon="search-x"), empty)
    return [
        rx.cond(rows.length() > 0, listing, rx.cond(loading, loading_block(), nothing)),
        load_more(done, loading, on_more, centered=centered),
    ]
