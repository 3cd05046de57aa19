"""Who is signed in, checked against the database on every event, and the live approval queue.

Every page state inherits `AuthState`; its handlers start with `caller = self._caller()`, which
re-validates the session token (api.auth.live_session) and answers None when the token is
missing, expired, revoked or belongs to a disabled person. Roles are never taken from event
arguments. Calls go through `_call` / `_admin_call`, under `_caught`: the one error tail (gone
session -> /signin, refusal or busy database -> toast, non-admin -> the page's `denied`).

The session token lives in an HttpOnly cookie that only the server sets (app/session_cookie.py);
the server reads it from the websocket handshake, never from anything the page's script sends.
Each tab's state is bound to the session it was made under (`SessionBinding`): a socket that
presents another tab's client token, without that tab's session cookie, gets that state wiped
before anything is sent.

The pending queue is per tab (`PendingQueue`), loaded with the tab's own caller. `live_queue`
pushes changes to the tabs connected to this worker whose session is still live at that moment;
`live_threads` does the same for open thread pages, with the new timeline rows each tab reads
through its own session (both built on `LiveTabs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit

import reflex as rx
from reflex.middleware import Middleware

from api import auth, clients
from api.auth import SESSION_COOKIE as SESSION_COOKIE  # one name, kept where it was
from api.auth import cookie_token
from api.calls import call
from api.errors import FunctionError, Unavailable
from api.origins import origin_allowed
from api.registry import Caller
from api.services import signin
from api.vocabulary import ADMIN, DECIDERS, REVIEWER, VIEWER
from app.rows import QueueRow

log = logging.getLogger(__name__)

# The console is for staff; end users (role "user") use the chat app built on the API.
CONSOLE_ROLES = frozenset({ADMIN, REVIEWER, VIEWER})
DECIDER_ROLES = DECIDERS
ADMIN_ROLE = ADMIN
QUEUE_LIMIT = 500
# A sign-in's hand-off code (sign-in -> HttpOnly cookie) is good for this long, once.
HANDOFF_SECONDS = 30


# What signing in after a one-time link may fail with, besides the link's own FunctionError.
LINK_SIGNIN_ERRORS = (
    Unavailable,
    signin.SignInFailed,
    signin.TooManyAttempts,
    signin.BadSignInInput,
)


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
    """A post-sign-in destination: only a path on this site (never //host or a scheme).

    Browsers drop tabs and newlines from an address and read a backslash as a slash, so
    "/\t/evil.example" or "/\\evil.example" would leave the site: any control character,
    space or backslash makes the target refused, and what is left must parse as a bare path."""
    default = "/approvals"
    if not isinstance(target, str) or not target or len(target) > 2000:
        return default
    if "\\" in target or any(ord(char) <= 0x20 or ord(char) == 0x7F for char in target):
        return default
    if not target.startswith("/") or target.startswith("//"):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def session_key(token: str) -> str:
    """What a tab's state is bound to: the SHA-256 of its session token ("" for none)."""
    return hashlib.sha256(token.encode()).hexdigest() if token else ""


def _router_cookie(router_data: dict[str, Any]) -> str:
    """The session token of a socket's handshake; "" when the handshake came from a page of
    another origin (see origin_allowed)."""
    headers = router_data.get("headers") or {}
    if not origin_allowed(headers.get("origin"), headers.get("host")):
        return ""
    return cookie_token(headers.get("cookie", ""))


def _console_states(cls: type[rx.State] | None = None) -> list[type[rx.State]]:
    """AuthState and every state under it (every page's state)."""
    cls = cls or AuthState
    found = [cls]
    for sub in cls.get_substates():
        found.extend(_console_states(sub))
    return found


async def clear_tab(root: rx.State) -> None:
    """Every console state of this tab back to its defaults: loaded threads, a key or link shown
    once, the queue, who is signed in."""
    for cls in _console_states():  # loaded first: with Redis, substates load on demand
        await root.get_state(cls)
    # reset() covers backend vars too, and every loaded substate.
    (await root.get_state(AuthState)).reset()


class SessionBinding(Middleware):
    """Before every event (hydrate included): if the session cookie of this socket's handshake
    is not the one this tab's state was made under, the state is wiped and bound to the new
    one. So a client token copied from another tab, or a tab whose person signed out and in as
    someone else, never sees what the state held."""

    async def preprocess(self, app, state, event):
        key = session_key(_router_cookie(state.router_data))
        auth_state = await state.get_state(AuthState)
        if auth_state._bound != key:
            if auth_state._bound:
                forget_tab(state.router_data.get("token", ""))
            await clear_tab(state)
            auth_state._bound = key
        return None


class Failure:
    """What a call under `AuthState._caught` left to do: false while nothing failed; once it
    failed, `event` is what the handler sends (None when there is nothing to send)."""

    def __init__(self) -> None:
        self.failed = False
        self.event: rx.event.EventSpec | None = None

    def __bool__(self) -> bool:
        return self.failed


class AuthState(rx.State):
    person_name: str = ""
    person_email: str = ""
    person_role: str = ""
    # Set when the server ended this tab's session under it (revoked, disabled, role changed).
    session_ended: bool = False
    # session_key() of the session this tab's state belongs to (see SessionBinding).
    _bound: str = ""
    # A sign-in waiting for its cookie: {"code": sha256, "token": ..., "until": epoch seconds}.
    _handoff: dict[str, Any] = {}

    def _session_token(self) -> str:
        """The session token from this socket's handshake cookie."""
        return _router_cookie(self.router_data)

    def _caller(self) -> Caller | None:
        """The signed-in person as a Caller, re-checked against the database; None if not."""
        session = self._live_session()
        return None if session is None else auth.caller_from_session(session)

    def _live_session(self) -> dict[str, Any] | None:
        """The session of this tab's cookie if it is live, bound to this state and of a console
        role (the person's name, email and role are refreshed from it); else None."""
        token = self._session_token()
        if not token or session_key(token) != self._bound:
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
        return session

    def _signed_in_caller(self) -> Caller:
        """_caller(), or NotSignedIn when the session is gone."""
        caller = self._caller()
        if caller is None:
            raise NotSignedIn
        return caller

    async def _call(self, path: str, args: dict[str, Any]) -> Any:
        """call() as the signed-in person; NotSignedIn when the session is gone."""
        return await call(path, args, self._signed_in_caller())

    async def _admin_call(self, path: str, args: dict[str, Any]) -> Any:
        """_call for admin pages: the role is checked here (from the database, never from the
        event) and again by call()."""
        caller = self._caller()
        if caller is None:
            raise NotSignedIn
        if caller.role != ADMIN_ROLE:
            raise AdminOnly
        return await call(path, args, caller)

    @contextlib.asynccontextmanager
    async def _caught(self, busy: str = "") -> AsyncIterator[Failure]:
        """The one error tail of the console's handlers:

            async with self._caught("loading") as failed:
                result = await self._call("console:threads", args)
            if failed:
                yield failed.event
                return

        A gone session leads to /signin (and back), a refusal or a busy database becomes a
        toast, and AdminOnly sets the admin page's `denied` (only admin pages call _admin_call).
        `busy` names a flag reset to False however the block ends."""
        failure = Failure()
        try:
            yield failure
        except NotSignedIn:
            failure.failed, failure.event = True, self._to_signin()
        except AdminOnly:
            failure.failed = True
            self.denied = True  # type: ignore[attr-defined]
        except (FunctionError, Unavailable) as exc:
            failure.failed, failure.event = True, error_toast(exc)
        finally:
            if busy:
                setattr(self, busy, False)

    async def _sign_in_after_link(self, email: str, password: str) -> signin.SignedIn:
        """Signs in with the password a one-time link (setup, set-password) just set: the link
        proves who this is (`after_link`), so the lockout's extra checks are skipped."""
        return await signin.sign_in(
            email,
            password,
            ip=clients.from_router(self.router),
            user_agent=self.router.headers.user_agent or None,
            after_link=True,
        )

    def _to_signin(self) -> rx.event.EventSpec:
        """To /signin, and back to this page after signing in."""
        return signin_redirect(self.router.url.path)

    def _signed_in(self, token: str, next_path: str) -> rx.event.EventSpec:
        """After a sign-in on the server: the browser trades a one-time code for the HttpOnly
        session cookie (POST /api/auth/console-session), then loads `next_path` afresh, so the
        new socket's handshake carries the cookie. The token itself never reaches the page."""
        code = secrets.token_urlsafe(32)
        self._handoff = {
            "code": hashlib.sha256(code.encode()).hexdigest(),
            "token": token,
            "until": time.time() + HANDOFF_SECONDS,
        }
        args = [backend_url(), self.router.session.client_token, code, safe_next(next_path)]
        return rx.call_script(
            "window.threadlineSession.handOff(" + ", ".join(json.dumps(a) for a in args) + ")"
        )

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
        """First on_load event of every page: off to /signin unless signed in; the tab's own
        copy of the pending queue is loaded (once) and kept live from then on."""
        session = self._live_session()
        if session is None:
            return signin_redirect(self.router.url.path)
        queue = await self.get_state(PendingQueue)
        tab = self.router.session.client_token
        deadline = auth.session_deadline(session)
        if not live_queue.register(tab, self._bound, deadline) or not queue.loaded:
            await queue._load(auth.caller_from_session(session))
        return None

    @rx.event
    async def sign_out(self):
        token = self._session_token()
        forget_tab(self.router.session.client_token)
        if token:
            await signin.sign_out(token)
        await clear_tab(self._get_root_state())
        self._bound = ""
        # The browser drops the cookie (the server clears it) and loads /signin afresh.
        return rx.call_script(f"window.threadlineSession.signOut({json.dumps(backend_url())})")


def backend_url() -> str:
    """Reflex's backend address as its frontend is built with (the page's script adjusts the
    host the way Reflex's own does)."""
    from reflex_base.config import get_config

    return get_config().api_url


def api_download(path: str) -> rx.event.EventSpec:
    """The browser downloads `path` from the API (an attachment of api/exports.py) with its
    session cookie: the file goes straight to disk, never through this tab's state."""
    script = f"window.threadlineSession.download({json.dumps(backend_url())}, {json.dumps(path)})"
    return rx.call_script(script)


def passwords_differ(form_data: dict) -> str:
    """The handler-side check of a password + repeat form ("" when fine). The length rule
    (8–72 bytes) is the server's, with its own message."""
    if str(form_data.get("password", "")) != str(form_data.get("repeat", "")):
        return "The two passwords are not the same."
    return ""


def error_toast(exc: Exception) -> rx.event.EventSpec:
    if isinstance(exc, Unavailable):
        return rx.toast.error("The database is busy; try again in a moment.")
    return rx.toast.error(str(exc) or exc.__class__.__name__)


def queue_rows(inbox: dict[str, Any]) -> tuple[list[QueueRow], int]:
    return [QueueRow.of(doc) for doc in inbox["requests"]], int(inbox["count"])


class PendingQueue(AuthState):
    """This tab's copy of the pending approval requests, oldest first: loaded through the tab's
    own session and refreshed by `live_queue` while that session lives."""

    requests: list[QueueRow] = []
    count: int = 0
    loaded: bool = False

    def _rows(self) -> list[QueueRow]:
        """`requests` as stored, without Reflex's change-tracking proxy around every row: the
        computed vars below only read it, and wrapping each row of each tab for reading was
        most of the server's work in a push to 500 tabs (bench/fanout.py). Reading
        `self.requests` here keeps it a dependency of each of them."""
        rows = self.requests
        return getattr(rows, "__wrapped__", rows)

    @rx.var
    def pending_ids(self) -> list[str]:
        return [request._id for request in self._rows()]

    @rx.var
    def complete(self) -> bool:
        """True when `requests` holds every pending request (not cut at QUEUE_LIMIT)."""
        return self.count <= len(self.requests)

    def _shown_request(self) -> QueueRow | None:
        shown = self.approval_request_id  # the route's argument (routes.APPROVAL_ARG)
        return next((row for row in self._rows() if row._id == shown), None)

    @rx.var
    def shown_claimed_by(self) -> str:
        """Live, for /approvals/{id}: who has claimed the request this tab shows ("" for nobody
        or when it is not pending)."""
        shown = self._shown_request()
        return shown.claimedBy if shown else ""

    @rx.var
    def shown_claimed_name(self) -> str:
        shown = self._shown_request()
        return shown.claimedByName if shown else ""

    async def _load(self, caller: Caller) -> None:
        try:
            inbox = await call("inbox:pending", {"limit": QUEUE_LIMIT}, caller)
        except (FunctionError, Unavailable):
            log.exception("loading the approval queue failed")
            return
        self._apply(*queue_rows(inbox))

    def _apply(self, requests: list[QueueRow], count: int) -> None:
        """Store fresh rows, touching only what changed (each change is sent to the tab)."""
        if self.requests != requests:
            self.requests = requests
        if self.count != count:
            self.count = count
        if not self.loaded:
            self.loaded = True


class LiveTabs:
    """What the live registries share: the tabs registered under a session, which of their
    sockets are connected to THIS worker, and the re-check of each tab's session from its
    socket's handshake cookie before anything is pushed to it.

    `tabs` maps a tab's client token to the session it registered under (its session_key).
    """

    PARALLEL = 16

    def __init__(self) -> None:
        self.app: rx.App | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.tabs: dict[str, str] = {}

    def attach(self, app: rx.App) -> None:
        self.app = app

    def forget(self, tab: str) -> None:
        self.tabs.pop(tab, None)

    def _on_this_loop(self) -> asyncio.AbstractEventLoop | None:
        """The running loop, if it is the one the tabs registered on (else None: nothing to do)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return None
        if self.app is None or running is not self.loop or not self.tabs:
            return None
        return running

    def connected_here(self, tabs: Iterable[str] | None = None) -> dict[str, str]:
        """Registered tab -> socket id, for the sockets connected to this worker (Reflex's own
        token manager, not anything a browser says)."""
        namespace = self.app.event_namespace if self.app is not None else None
        if namespace is None:
            return {}
        manager = namespace._token_manager
        here = {}
        for tab in list(self.tabs if tabs is None else tabs):
            record = manager.token_to_socket.get(tab)
            if record is not None and record.instance_id == manager.instance_id:
                here[tab] = record.sid
        return here

    def handshake_token(self, sid: str) -> str:
        """The session token in the cookie this socket connected with."""
        namespace = self.app.event_namespace
        data = namespace._static_router_data.get(sid) if namespace is not None else None
        return _router_cookie(data or {})

    async def live_callers(
        self, tabs: Iterable[str] | None = None
    ) -> list[tuple[str, str, Caller]]:
        """(tab, session key, caller) for each registered tab connected here whose socket still
        presents the session it registered under, that session live and of a console role. Every
        other tab is ended (see end_tab). Sessions are read once per run, all in one statement
        (a session key is the SHA-256 the database keeps of the token)."""
        presented: list[tuple[str, str]] = []
        for tab, sid in self.connected_here(tabs).items():
            token = self.handshake_token(sid)
            key = session_key(token)
            if not token or key != self.tabs.get(tab):
                await self._end(tab)
                continue
            presented.append((tab, key))
        sessions = auth.live_sessions_by_digest(key for _, key in presented)
        live: list[tuple[str, str, Caller]] = []
        for tab, key in presented:
            session = sessions.get(key)
            if session is None or session["role"] not in CONSOLE_ROLES:
                await self._end(tab)
                continue
            live.append((tab, key, auth.caller_from_session(session)))
        return live

    async def _end(self, tab: str) -> None:
        self.forget(tab)
        await end_tab(self.app, tab)


class LiveQueue(LiveTabs):
    """Pushes the pending queue to the tabs connected to this worker.

    On APPROVALS_CHANGED (from any worker, through Redis) each registered tab whose socket is
    connected HERE is checked again: the session cookie of that socket's handshake must still be
    the registered one, its session live and its role a console role; then the fresh rows go to
    it through app.modify_state. On CREDENTIALS_CHANGED (sign-out, disabling, role change,
    revocation, in any worker) the same check runs, and a tab that fails it is forgotten and
    its state wiped at once.

    One run at a time; events that arrive meanwhile make exactly one more run (bursts coalesce).
    The rows are read once per run and role, with the caller of the first live tab of that role.

    A session that simply expires publishes nothing, so each registered tab also has a deadline
    (its session's expiry: absolute, or idle from its last recorded use) and one timer wakes at
    the earliest: a tab whose session is then no longer live is ended the same way, connected or
    not; one still live (used meanwhile) gets its new deadline.
    """

    # The timer wakes a little after a deadline (the database compares with "now" too), and at
    # least this often, whatever the clock does.
    EXPIRY_SLACK_SECONDS = 0.05
    MAX_TIMER_SECONDS = 3600.0
    EXPIRY_RETRY_SECONDS = 5.0

    def __init__(self) -> None:
        super().__init__()
        # tab -> when (ms since the epoch) its session expires unless used meanwhile
        self.deadlines: dict[str, float] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.expiring: asyncio.Task | None = None
        self.task: asyncio.Task | None = None
        self.again = False
        self.refresh_rows = False

    def register(self, tab: str, key: str, deadline: float | None = None) -> bool:
        """Records a signed-in tab (and when its session expires); False if it was not
        registered under this session yet."""
        self.loop = asyncio.get_running_loop()
        known = self.tabs.get(tab) == key
        self.tabs[tab] = key
        if deadline is not None:
            self.deadlines[tab] = deadline
            self._arm()
        return known

    def forget(self, tab: str) -> None:
        self.tabs.pop(tab, None)
        self.deadlines.pop(tab, None)

    def _arm(self) -> None:
        """The expiry timer, set for the earliest deadline (kept if it wakes sooner already)."""
        if not self.deadlines or self.loop is None:
            return
        earliest = min(self.deadlines.values())
        if self.timer is not None:
            if self.timer_at <= earliest:
                return
            self.timer.cancel()
        delay = max(0.0, earliest / 1000.0 - time.time()) + self.EXPIRY_SLACK_SECONDS
        self.timer_at = earliest
        self.timer = self.loop.call_later(min(delay, self.MAX_TIMER_SECONDS), self._expiry_due)

    def _expiry_due(self) -> None:
        self.timer = None
        if self.expiring is None or self.expiring.done():
            self.expiring = asyncio.get_running_loop().create_task(self.expire())

    async def expire(self) -> None:
        """Ends every tab whose deadline has passed and whose session is no longer live;
        the others get their new deadline. Then the timer is set again."""
        now = time.time() * 1000.0
        for tab, deadline in list(self.deadlines.items()):
            key = self.tabs.get(tab)
            if deadline > now or not key:
                continue
            try:
                # A tab is bound to the SHA-256 of its token, which is what the database keeps.
                session = auth.session_for_digest(key)
                if session is None or session["role"] not in CONSOLE_ROLES:
                    await self._end(tab)
                elif self.tabs.get(tab) == key:
                    self.deadlines[tab] = auth.session_deadline(session)
            except Exception:
                log.exception("checking an open tab's session for expiry failed")
                if tab in self.deadlines:
                    self.deadlines[tab] = now + self.EXPIRY_RETRY_SECONDS * 1000.0
        self._arm()

    def on_approvals_changed(self, _topic: str, _payload: dict[str, Any]) -> None:
        self._schedule(rows=True)

    def on_credentials_changed(self, _topic: str, _payload: dict[str, Any]) -> None:
        self._schedule(rows=False)

    def _schedule(self, rows: bool) -> None:
        running = self._on_this_loop()
        if running is None:
            return
        self.refresh_rows = self.refresh_rows or rows
        if self.task is not None and not self.task.done():
            self.again = True
            return
        self.task = running.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.again = False
            rows, self.refresh_rows = self.refresh_rows, False
            try:
                await self._push_all(rows)
            except Exception:
                log.exception("pushing the approval queue to open tabs failed")
            if not self.again:
                return

    async def _push_all(self, rows: bool) -> None:
        inboxes: dict[str, tuple[list[QueueRow], int] | None] = {}
        live = await self.live_callers()
        if not rows:
            return
        for _, _, caller in live:
            if caller.role not in inboxes:
                try:
                    inbox = await call("inbox:pending", {"limit": QUEUE_LIMIT}, caller)
                    inboxes[caller.role] = queue_rows(inbox)
                except (FunctionError, Unavailable):
                    log.exception("reading the approval queue failed")
                    inboxes[caller.role] = None
        limit = asyncio.Semaphore(self.PARALLEL)

        async def push(tab: str, key: str, role: str) -> None:
            fresh = inboxes.get(role)
            if fresh is None:
                return
            async with limit:
                await self._push(tab, key, fresh)

        await asyncio.gather(*(push(tab, key, caller.role) for tab, key, caller in live))

    async def _push(self, tab: str, key: str, fresh: tuple[list[QueueRow], int]) -> None:
        try:
            async with self.app.modify_state(
                rx.BaseStateToken(ident=tab, cls=PendingQueue)
            ) as root:
                auth_state = await root.get_state(AuthState)
                if auth_state._bound != key:  # the tab was wiped or rebound meanwhile
                    self.forget(tab)
                    return
                queue = await root.get_state(PendingQueue)
                queue._apply(*fresh)
        except Exception:
            log.exception("pushing the approval queue to a tab failed")


class LiveThreads(LiveTabs):
    """Pushes new timeline rows to the open thread tabs connected to this worker.

    A thread tab registers (tab -> session key, and tab -> thread id) when its page loads. On
    SYNC_TOUCHED (one event per committed batch of the group-commit writer, from any worker
    through Redis) naming messages or tool calls of a thread that tabs here have open, each of
    those tabs is checked as LiveQueue checks its tabs (handshake cookie, live session, console
    role; a tab that fails is ended and wiped), and then reads what is new after the rows it
    already shows through timeline:list, with ITS OWN caller, inside app.modify_state: the
    thread page's `_pull_live` appends only the new rows (see app/pages/thread.py). Tabs of one
    session showing the same rows share that read within a run (the same person, the same
    answer), so ten tabs of one reviewer cost one read.

    One run at a time; batches that commit meanwhile add their threads to exactly one more run
    (bursts coalesce). A tab never receives anything for a thread it does not have open.
    """

    WATCHED_MODULES = frozenset({"messages", "toolCalls"})

    def __init__(self) -> None:
        super().__init__()
        self.threads: dict[str, str] = {}  # tab -> thread id
        self.state_cls: type[rx.State] | None = None
        self.task: asyncio.Task | None = None
        self.pending: set[str] = set()

    def attach(self, app: rx.App, state_cls: type[rx.State] | None = None) -> None:
        """`state_cls` is the thread page's state; it has `_pull_live(caller, thread_id)`."""
        self.app = app
        self.state_cls = state_cls

    def register(self, tab: str, key: str, thread_id: str) -> None:
        self.loop = asyncio.get_running_loop()
        self.tabs[tab] = key
        self.threads[tab] = thread_id

    def forget(self, tab: str) -> None:
        self.tabs.pop(tab, None)
        self.threads.pop(tab, None)

    def on_sync_touched(self, _topic: str, payload: dict[str, Any]) -> None:
        if self._on_this_loop() is None:
            return
        open_threads = set(self.threads.values())
        for pair in payload.get("touched", ()):
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                continue
            module, thread_id = pair
            if module in self.WATCHED_MODULES and thread_id in open_threads:
                self.pending.add(thread_id)
        if self.pending:
            self._schedule()

    def _schedule(self) -> None:
        running = self._on_this_loop()
        if running is None or (self.task is not None and not self.task.done()):
            return  # a run is going on: it takes up `pending` again before it ends
        self.task = running.create_task(self._run())

    async def _run(self) -> None:
        while self.pending:
            threads, self.pending = self.pending, set()
            try:
                await self._push_all(threads)
            except Exception:
                log.exception("pushing new timeline rows to open tabs failed")

    async def _push_all(self, threads: set[str]) -> None:
        watching = [tab for tab, thread_id in self.threads.items() if thread_id in threads]
        live = await self.live_callers(watching)
        limit = asyncio.Semaphore(self.PARALLEL)
        reads: dict[tuple, asyncio.Future] = {}  # one read per session and rows shown

        async def push(tab: str, key: str, caller: Caller) -> None:
            async with limit:
                await self._push(tab, key, caller, reads)

        await asyncio.gather(*(push(tab, key, caller) for tab, key, caller in live))

    async def _push(
        self, tab: str, key: str, caller: Caller, reads: dict[tuple, asyncio.Future] | None = None
    ) -> None:
        thread_id = self.threads.get(tab)
        if thread_id is None or self.state_cls is None:
            return
        try:
            async with self.app.modify_state(
                rx.BaseStateToken(ident=tab, cls=self.state_cls)
            ) as root:
                auth_state = await root.get_state(AuthState)
                if auth_state._bound != key:  # the tab was wiped or rebound meanwhile
                    self.forget(tab)
                    return
                page = await root.get_state(self.state_cls)
                if not await page._pull_live(caller, thread_id, reads, key):
                    self.forget(tab)  # the tab moved on to another page
        except Exception:
            log.exception("pushing new timeline rows to a tab failed")


async def end_tab(app: rx.App, tab: str) -> None:
    """The tab's session ended (or its socket presents another one): nothing more reaches it
    from any live registry, and what its state held is wiped now."""
    forget_tab(tab)
    try:
        async with app.modify_state(rx.BaseStateToken(ident=tab, cls=AuthState)) as root:
            await clear_tab(root)
            auth_state = await root.get_state(AuthState)
            auth_state.session_ended = True
    except Exception:
        log.exception("clearing an ended tab failed")


def forget_tab(tab: str) -> None:
    live_queue.forget(tab)
    live_threads.forget(tab)


live_queue = LiveQueue()
live_threads = LiveThreads()
