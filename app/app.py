"""The Reflex console, served with the HTTP API on one port.

Pages live in app/pages (one module each, with its own state); app/state.py holds who is signed
in and the shared live approval queue, refreshed by an api.events listener.
"""

import reflex as rx

from api.events import bus
from api.http import create_api, freeze_startup_heap
from api.ingest import IngestFront
from app.pages import (
    account,
    admin_audit,
    admin_keys,
    admin_users,
    approval,
    approvals,
    artifact,
    artifacts,
    dashboard,
    set_password,
    setup,
    thread,
    threads,
)
from app.pages.signin import SigninState, signin_page
from app.state import queue_refresher


class ThreadlineApp(rx.App):
    """Reflex's app with the ingest fast lane (api/ingest.py) in front of its whole ASGI stack:
    Reflex wraps `api_transformer` inside its own Starlette app and middlewares, so the lane
    can only be outermost here, where the server gets the ASGI app."""

    def __call__(self):
        return IngestFront(super().__call__())


app = ThreadlineApp(
    api_transformer=create_api(),
    stylesheets=["/console.css"],
    head_components=[rx.script(src="/shortcuts.js", defer=True)],
)

app.add_page(
    signin_page,
    route="/signin",
    title="Sign in · Threadline",
    on_load=SigninState.check_already_signed_in,
)
for page in (
    dashboard,
    approvals,
    approval,
    threads,
    thread,
    artifacts,
    artifact,
    setup,
    set_password,
    account,
    admin_users,
    admin_keys,
    admin_audit,
):
    page.add(app)

# Every committed change to an approval request refreshes the shared queue once and pushes it to
# every signed-in tab.
queue_refresher.attach(app)
bus.add_listener("approvals:changed", queue_refresher.on_event)

# Last: everything loaded so far lives as long as the process (see freeze_startup_heap).
freeze_startup_heap()
