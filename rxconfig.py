"""Reflex configuration. Threadline's own settings live in api/settings.py."""

import os

import reflex as rx


def _state_manager() -> dict:
    """One worker without Redis: each tab's state in memory. Reflex's default there ("disk")
    pickles every changed tab's whole state to .states/ and rescans that folder: that was about
    a third of the server's CPU in a live-queue push to 500 tabs (bench/fanout.py), and it put
    tab state on disk. A tab whose state is gone (a restart) hydrates afresh and re-registers,
    as with disk. With Redis (several workers) nothing is set here, so Reflex picks Redis."""
    if os.environ.get("REFLEX_REDIS_URL") or os.environ.get("REFLEX_STATE_MANAGER_MODE"):
        return {}
    return {"state_manager_mode": rx.constants.StateManagerMode.MEMORY}


config = rx.Config(
    app_name="app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.SitemapPlugin(),
        rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo")),
    ],
    **_state_manager(),
)
