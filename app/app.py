"""The Reflex console, served with the HTTP API on one port."""

import reflex as rx

from api.http import create_api

app = rx.App(api_transformer=create_api())


def index() -> rx.Component:
    return rx.center(rx.heading("Threadline"), height="100vh")


app.add_page(index, route="/")
