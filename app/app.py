"""The Reflex console, served with the HTTP API on one port.

Pages live in app/pages (one module each, with its own state); app/state.py holds who is signed
in, each tab's live approval queue and each open thread tab's new timeline rows (both pushed by
api.events listeners) and the binding of each tab's state to its session cookie;
app/session_cookie.py sets and clears that cookie.
"""

import reflex as rx

from api import deadlines, processes, webhook_sender
from api.events import bus
from api.headers import security_headers
from api.http import create_api, freeze_startup_heap
from api.ingest import IngestFront
from api.vocabulary import APPROVALS_CHANGED, CREDENTIALS_CHANGED, SYNC_TOUCHED
from app.pages import (
    account,
    admin_audit,
    admin_keys,
    admin_users,
    admin_webhooks,
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
from app.routes import SIGNIN
from app.session_cookie import ROUTES as COOKIE_ROUTES
from app.session_cookie import endpoints as cookie_endpoints
from app.state import SessionBinding, live_queue, live_threads

api = create_api()
api.router.routes[:0] = COOKIE_ROUTES


class ThreadlineApp(rx.App):
    """Reflex's app with the ingest fast lane (api/ingest.py) in front of its whole ASGI stack:
    Reflex wraps `api_transformer` inside its own Starlette app and middlewares, so the lane
    can only be outermost here, where the server gets the ASGI app. (The lane answers only
    backends' messages:create, never a browser's request: those carry an Origin and take the
    full stack, with its security headers.)"""

    def __call__(self):
        return IngestFront(super().__call__())


app = ThreadlineApp(
    # The API first, then security headers around everything served (API, pages, files).
    api_transformer=[api, security_headers],
    stylesheets=["/console.css"],
    head_components=[
        rx.script(src="/shortcuts.js", defer=True),
        rx.script(src="/session.js", defer=True),
        rx.script(src="/live_thread.js", defer=True),
        rx.script(src="/countdown.js", defer=True),
    ],
)
# The webhook sender runs for as long as the server (api/webhook_sender.py).
app.register_lifespan_task(webhook_sender.running)
# Before any event is handled (hydrate included): wipe a tab's state that another session made.
app.add_middleware(SessionBinding(), index=0)

app.add_page(
    signin_page,
    route=SIGNIN,
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
    admin_webhooks,
    admin_audit,
):
    page.add(app)

# Every committed change to an approval request is pushed to each signed-in tab of this worker
# (other workers hear it through Redis); every ended session stops its tabs at once.
live_queue.attach(app)
cookie_endpoints.attach(app)
bus.add_listener(APPROVALS_CHANGED, live_queue.on_approvals_changed)
bus.add_listener(CREDENTIALS_CHANGED, live_queue.on_credentials_changed)
# Each committed batch of new messages and tool calls reaches the open tabs of its thread, read
# with each tab's own session (app/state.py LiveThreads, app/pages/thread.py _pull_live).
live_threads.attach(app, thread.LiveTimeline)
bus.add_listener(SYNC_TOUCHED, live_threads.on_sync_touched)
# Pending approval requests past their deadline expire while the server runs (api/deadlines.py).
app.register_lifespan_task(deadlines.run_with_server)

# The worker processes for CPU-heavy work (diffs) start on first use and stop with the server.
app.register_lifespan_task(processes.lifespan)

# Last: everything loaded so far lives as long as the process (see freeze_startup_heap).
freeze_startup_heap()
