"""Who is signed in, checked against the database on every event, and the live approval queue.

Every page state inherits `AuthState`; its handlers start with `caller = self._caller()`, which
re-validates the opaque session token (api.auth.session_for_token) and answers None when the token
is missing, expired, revoked or belongs to a disabled person. Roles are never taken from event
arguments.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlencode

import reflex as rx

from api import auth, signin
from api.calls import call
from api.errors import FunctionError, Unavailable
from api.registry import Caller

log = logging.getLogger(__name__)

# The console is for staff; end users (role "user") use the chat app built on the API.
CONSOLE_ROLES = frozenset({"admin", "reviewer", "viewer"})
DECIDER_ROLES = frozenset({"admin", "reviewer"})
ADMIN_ROLE = "admin"
SESSION_COOKIE = "threadline_session"
SHARED_QUEUE_TOKEN = "approvals-inbox"  # no underscores: Reflex's link tokens forbid them
QUEUE_LIMIT = 500
# Reads the pending queue for the shared state with a viewer's rights: read-only, least privilege.
QUEUE_READER = Caller(kind="user", id="console-queue", label="console queue", role="viewer")


class NotSignedIn(Exception):
    """The token no longer stands for a signed-in staff member."""


class AdminOnly(Exception):
    """Signed in, but not an admin: admin pages show "not allowed"."""


def signin_redirect(back_to: str = "") -> rx.event.EventSpec:
    """To /signin; `back_to` (a path of this console) is where signing in leads afterwards."""
    if back_to and back_to not in ("/", "/signin"):
        return rx.redirect("/signin?" + urlencode({"next": back_to}))
    return rx.redirect("/signin")


def safe_next(target: str | None) -> str:
    """A post-sign-in destination: only a path on this site (never //host or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/approvals"
    return target


class AuthState(rx.State):
    session_token: str = rx.Cookie(
        "", name=SESSION_COOKIE, same_site="strict", max_age=14 * 24 * 3600, path="/"
    )
    person_name: str = ""
    person_email: str = ""
    person_role: str = ""

    def _caller(self) -> Caller | None:
        """The signed-in person as a Caller, re-checked against the database; None if not."""
        token = self.session_token
        if not token or not token.startswith(auth.SESSION_TOKEN_PREFIX):
            return None
        session = auth.live_session(token)
        if session is None or session["role"] not in CONSOLE_ROLES:
            return None
        if (self.person_name, self.person_email, self.person_role) != (
            session["name"],
            session["email"],
            session["role"],
        ):
            self.person_name = session["name"]
            self.person_email = session["email"]
            self.person_role = session["role"]
        return auth.caller_from_session(session)

    async def _call(self, path: str, args: dict[str, Any]) -> Any:
        """call() as the signed-in person; NotSignedIn when the session is gone."""
        caller = self._caller()
        if caller is None:
            raise NotSignedIn
        return await call(path, args, caller)

    async def _admin_call(self, path: str, args: dict[str, Any]) -> Any:
        """_call for admin pages: the role is checked here (from the database, never from the
        event) and again by call()."""
        caller = self._caller()
        if caller is None:
            raise NotSignedIn
        if caller.role != ADMIN_ROLE:
            raise AdminOnly
        return await call(path, args, caller)

    def _to_signin(self) -> rx.event.EventSpec:
        """To /signin, and back to this page after signing in."""
        return signin_redirect(self.router.url.path)

    @rx.var
    def may_decide(self) -> bool:
        """For showing decision controls only; every handler checks again on the server."""
        return self.person_role in DECIDER_ROLES

    @rx.var
    def may_set_artifact_status(self) -> bool:
        return self.person_role in DECIDER_ROLES

    @rx.var
    def is_admin(self) -> bool:
        """For showing the admin navigation only; call() refuses non-admins anyway."""
        return self.person_role == ADMIN_ROLE

    @rx.event
    async def require_signed_in(self):
        """First on_load event of every page: off to /signin unless signed in."""
        if self._caller() is None:
            self.session_token = ""
            return signin_redirect(self.router.url.path)
        queue = await self.get_state(PendingQueue)
        return PendingQueue.link if not queue._linked_to else None

    @rx.event
    async def sign_out(self):
        token = self.session_token
        self.session_token = ""
        self.person_name = self.person_email = self.person_role = ""
        if token:
            await signin.sign_out(token)
        queue = await self.get_state(PendingQueue)
        events: list = []
        if queue._linked_to:
            events = list(await queue._unlink() or [])
        return [*events, signin_redirect()]


def passwords_differ(form_data: dict) -> str:
    """The handler-side check of a password + repeat form ("" when fine). The length rule
    (8–72 bytes) is the server's, with its own message."""
    if str(form_data.get("password", "")) != str(form_data.get("repeat", "")):
        return "The two passwords are not the same."
    return ""


def last_path_segment(path: str) -> str:
    """The id at the end of a page's path (/threads/thr_1 -> thr_1)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def error_toast(exc: Exception) -> rx.event.EventSpec:
    if isinstance(exc, Unavailable):
        return rx.toast.error("The database is busy; try again in a moment.")
    return rx.toast.error(str(exc) or exc.__class__.__name__)


class PendingQueue(rx.SharedState):
    """The pending approval requests, oldest first, shared by every signed-in tab.

    Linked (to SHARED_QUEUE_TOKEN) only after the tab's token checks out. An api.events listener
    on "approvals:changed" refreshes it through `app.modify_state`, which pushes the change to
    every linked tab: no per-tab polling.
    """

    requests: list[dict[str, Any]] = []
    count: int = 0
    loaded: bool = False

    @rx.var
    def pending_ids(self) -> list[str]:
        return [request["_id"] for request in self.requests]

    @rx.var
    def complete(self) -> bool:
        """True when `requests` holds every pending request (not cut at QUEUE_LIMIT)."""
        return self.count <= len(self.requests)

    @rx.event
    async def link(self):
        auth_state = await self.get_state(AuthState)
        if auth_state._caller() is None:
            return auth_state._to_signin()
        queue_refresher.loop = asyncio.get_running_loop()
        linked = await self._link_to(SHARED_QUEUE_TOKEN)
        # The shared state outlives server restarts (it is kept with the other states), and
        # events published while no tab was linked were not applied: read it afresh.
        inbox = await call("inbox:pending", {"limit": QUEUE_LIMIT}, QUEUE_READER)
        linked._apply(inbox)
        return None

    def _apply(self, inbox: dict[str, Any]) -> None:
        """Store a fresh inbox:pending result, touching only what changed (each change is
        pushed to every linked tab)."""
        if self.requests != inbox["requests"]:
            self.requests = inbox["requests"]
        if self.count != inbox["count"]:
            self.count = inbox["count"]
        if not self.loaded:
            self.loaded = True


class QueueRefresher:
    """Coalesces bursts of "approvals:changed" into one refresh at a time (plus one more if
    anything changed while it ran).

    Works on the event loop the console's tabs linked from; events published on other loops (a
    CLI, tests running beside an in-process server) have no tabs to update.
    """

    def __init__(self) -> None:
        self.app: rx.App | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task | None = None
        self.again = False

    def attach(self, app: rx.App) -> None:
        self.app = app

    def on_event(self, _topic: str, _payload: dict[str, Any]) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self.app is None or running is not self.loop:
            return
        if self.task is not None and not self.task.done():
            self.again = True
            return
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.again = False
            try:
                inbox = await call("inbox:pending", {"limit": QUEUE_LIMIT}, QUEUE_READER)
                token = rx.BaseStateToken(ident=SHARED_QUEUE_TOKEN, cls=PendingQueue)
                async with self.app.modify_state(token) as root:
                    queue = await root.get_state(PendingQueue)
                    queue._apply(inbox)
            except (FunctionError, Unavailable):
                log.exception("refreshing the shared approval queue failed")
            except Exception:
                log.exception("pushing the approval queue to open tabs failed")
            if not self.again:
                return


queue_refresher = QueueRefresher()
