"""`AdminPage`: what the API keys and webhooks pages' states share. Opening the page (`load`)
first forgets what was shown once (`_opened`: a new key, a new signing secret are never shown
again, not even on reload), then reads the page's lists (`_lists`, while `loading`); `refresh`
reads them again after a change (app/paging.ReadPage). `denied` is set by AuthState._caught when
the caller is not an admin (the page then shows "not allowed"); the server refuses them anyway.

A change goes through `_change` (the call, then a toast and a fresh read); one that needs a
confirmation first through `_ask` (the dialog names the item) and `_confirmed`."""

from __future__ import annotations

from typing import Any

import reflex as rx

from app.paging import ReadPage


class AdminPage(ReadPage, mixin=True):
    loading: bool = False
    denied: bool = False
    # Bumped after a create so the form remounts empty.
    form_key: int = 0
    # The change waiting for confirmation: what it applies to, as the dialog names it.
    confirm_open: bool = False
    confirm_id: str = ""
    confirm_name: str = ""

    async def _lists(self) -> None:
        """Reads the page's lists into its vars (admin calls)."""
        raise NotImplementedError

    async def _read(self):
        self.loading = True
        yield
        async with self._caught("loading") as failed:  # type: ignore[attr-defined]
            await self._lists()
        if failed:
            yield failed.event
            return
        self.denied = False

    def _ask(self, item_id: str, name: str) -> None:
        self.confirm_id, self.confirm_name, self.confirm_open = item_id, name, True

    @rx.event
    def cancel_confirm(self):
        self.confirm_open = False

    async def _change(self, path: str, args: dict[str, Any], done: str):
        """An admin change: `path` called with `args`; then `done` as a toast, and the page read
        again (an async generator of events)."""
        async with self._caught() as failed:  # type: ignore[attr-defined]
            await self._admin_call(path, args)  # type: ignore[attr-defined]
        if failed:
            yield failed.event
            return
        yield rx.toast.success(done)
        yield type(self).refresh

    async def _confirmed(self, path: str, args: dict[str, Any], done: str):
        """The confirmed change: the dialog closes, then as `_change`."""
        self.confirm_open = False
        async for event in self._change(path, args, done):
            yield event
