"""Reflex configuration. Threadline's own settings live in api/settings.py."""

import reflex as rx

config = rx.Config(
    app_name="app",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.SitemapPlugin(),
        rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo")),
    ],
)
