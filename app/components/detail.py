"""What the three detail pages (an approval request, a thread, an artifact) share: their state's
opening (`DetailPage.load`: signed in, forget the last visit, read), the link back to their
list, the title line, the column grid, and the page itself (a spinner while loading, then the
detail or "not found"), so that each page module says only which function, which fields and
which cards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import reflex as rx

from app.components.layout import page_frame, signed_in_page
from app.components.ui import detail_or_missing


class DetailPage(rx.State, mixin=True):
    """A detail page's state (with AuthState): `load` runs on each visit; the page says what it
    forgets of the last visit (`_forget`) and how it reads (`_load`, which sets `found`)."""

    loading: bool = True
    found: bool = True

    async def _forget(self) -> None:
        """Clears what the last visit showed, before the page shows its spinner."""

    async def _load(self) -> None:
        """Reads what the page shows (errors go to AuthState._caught)."""
        raise NotImplementedError

    @rx.event
    async def load(self) -> AsyncIterator[Any]:
        if self._caller() is None:
            yield self._to_signin()
            return
        self.loading = True
        await self._forget()
        yield
        async with self._caught("loading") as failed:
            await self._load()
        if failed:
            yield failed.event


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
    route: str,
    name: str,
    back_to: tuple[str, str],
) -> None:
    """Registers the detail page of one `name` ("Thread"): `state.load` on each visit (signed
    in), `detail()` once loaded and found, else "{name} not found" with a link back to
    `back_to` (what, href)."""
    what, href = back_to

    def page() -> rx.Component:
        missing = detail_or_missing(
            state.loading, state.found, detail(), f"{name} not found", f"Back to {what}", href
        )
        return page_frame(missing)

    page.__name__ = detail.__module__.rsplit(".", 1)[-1] + "_page"
    title = f"{name} · Threadline"
    app.add_page(page, route=route, title=title, on_load=signed_in_page(state.load))
