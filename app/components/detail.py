"""What the three detail pages (an approval request, a thread, an artifact) share: the link back
to their list, the title line, the column grid, and the page itself (a spinner while loading,
then the detail or "not found", loaded on each visit for a signed-in person), so that each page
module says only which state, which fields and which cards."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from app.components.layout import page_frame, signed_in_page
from app.components.ui import detail_or_missing


def back_link(label: str, href: str) -> rx.Component:
    """ "← Inbox": the way back to the list the page was opened from."""
    return rx.link(
        rx.flex(rx.icon("arrow-left", size=14), label, align="center", spacing="1"),
        href=href,
        size="2",
    )


def title_line(title: rx.Var, untitled: str, *after: rx.Component, **props) -> rx.Component:
    """The page's h1 (`untitled` when the title is empty) and what follows it on its line."""
    return rx.flex(
        rx.heading(rx.cond(title.to(str) != "", title, untitled), size="6", as_="h1"),
        *after,
        spacing="3",
        align="center",
        wrap="wrap",
        **props,
    )


def detail_grid(*columns: rx.Component, lg: str, **props) -> rx.Component:
    """One column on small screens, `lg` of them on large ones."""
    return rx.grid(
        *columns, columns=rx.breakpoints(initial="1", lg=lg), spacing="4", width="100%", **props
    )


def add_detail_page(
    app: rx.App,
    state: type[rx.State],
    detail: Callable[[], rx.Component],
    *,
    route: str,
    title: str,
    missing: str,
    back: tuple[str, str],
) -> None:
    """Registers a detail page: `state.load` on each visit (signed in), `detail()` once loaded
    and found, else `missing` with the link `back` (label, href)."""

    def page() -> rx.Component:
        return page_frame(detail_or_missing(state.loading, state.found, detail(), missing, *back))

    page.__name__ = detail.__module__.rsplit(".", 1)[-1] + "_page"
    app.add_page(page, route=route, title=title, on_load=signed_in_page(state.load))
