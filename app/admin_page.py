"""`AdminPage`: what the API keys and webhooks pages' states share. Opening the page (`load`)
first forgets what was shown once (a new key, a new signing secret: never shown again, not even
on reload), then reads the page (`_refresh`); `refresh` reads it again after a change. `denied`
is set by AuthState._caught when the caller is not an admin (the page then shows "not allowed");
the server refuses them anyway."""

from __future__ import annotations

import reflex as rx


class AdminPage(rx.State, mixin=True):
    loading: bool = False
    denied: bool = False
    # Bumped after a create so the form remounts empty.
    form_key: int = 0
    confirm_open: bool = False

    def _forget_shown_once(self) -> None:
        """Drops what the page showed once (the page's own vars)."""

    async def _refresh(self):
        """Reads the page's lists (an async generator of events)."""
        raise NotImplementedError
        yield

    @rx.event
    async def load(self):
        self._forget_shown_once()
        async for event in self._refresh():
            yield event

    @rx.event
    async def refresh(self):
        async for event in self._refresh():
            yield event
