"""`PagedList`: the state of a keyset-paged list page (threads, artifacts, admin users, the
audit log). A page mixes it into its AuthState subclass and says which function to call and
what it shows of each document (`_page`), and which filters it sends (`_filter_args`):

    class ThreadsState(PagedList, AuthState):
        rows: list[ThreadRow] = []    # the page's row type (app/rows.py)
        def _filter_args(self): return {"search": self.search} if self.search else {}
        async def _page(self, args):
            result = await self._call("console:threads", args)
            return result, [ThreadRow.of(doc) for doc in result["page"]]

`load` (opening the page) starts from the first page, after `_opened` (what the page forgets
then); `refresh` reads the first page again, `more` appends the next one ("Load more"). A gone
session or a failed call ends the same way as every console handler (AuthState._caught). The
list's components are in app/components/lists.py."""

from __future__ import annotations

from typing import Any

import reflex as rx

PAGE_SIZE = 50


class ReadPage(rx.State, mixin=True):
    """What the states of pages that read lists share (PagedList, app/admin_page.AdminPage):
    `load` (opening the page) reads after `_opened` (what the page forgets then), `refresh`
    reads again (after a change, a new filter)."""

    def _opened(self) -> None:
        """What opening the page forgets (the page's own vars: a link or a key shown once)."""

    async def _read(self):
        """Reads the page's lists (an async generator of events)."""
        raise NotImplementedError
        yield

    @rx.event
    async def load(self):
        self._opened()
        async for event in self._read():
            yield event

    @rx.event
    async def refresh(self):
        async for event in self._read():
            yield event


class PagedList(ReadPage, mixin=True):
    rows: list[dict[str, Any]] = []
    cursor: str = ""
    done: bool = True
    loading: bool = False
    # Bumped by "Clear" so the filter form remounts with empty fields.
    form_key: int = 0

    def _filter_args(self) -> dict[str, Any]:
        """The list function's arguments besides paginationOpts (the page's filters)."""
        return {}

    async def _page(self, args: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One page: the list function's answer, and the rows this page shows of it."""
        raise NotImplementedError

    @rx.event
    async def more(self):
        async for event in self._fetch():
            yield event

    async def _read(self):
        self.rows, self.cursor = [], ""
        async for event in self._fetch():
            yield event

    async def _fetch(self):
        if self._caller() is None:
            yield self._to_signin()
            return
        self.loading = True
        yield
        args: dict[str, Any] = {
            "paginationOpts": {"numItems": PAGE_SIZE, "cursor": self.cursor or None},
            **self._filter_args(),
        }
        async with self._caught("loading") as failed:
            result, rows = await self._page(args)
        if failed:
            yield failed.event
            return
        self.rows = self.rows + rows
        self.cursor = result["continueCursor"]
        self.done = result["isDone"]
