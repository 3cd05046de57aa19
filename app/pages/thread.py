"""/threads/{threadId}: one timeline of messages and tool calls, the session, the thread's
artifacts and approval requests, and exports. Opens on the latest entries; "Load older" pages
back through timeline:list, so a 10,000-message thread opens as fast as a short one.

The timeline is live: each committed batch of new messages and tool calls on this thread makes
app.state.LiveThreads call `_pull_live` with this tab's own caller, which reads only what is newer
than the rows shown and appends it to `LiveTimeline.live_entries`. Reflex sends a changed var
whole, so the rows already loaded (`ThreadState.entries`) live in another state and are not sent
again; each row is keyed by its id so the browser keeps the rows it has (assets/live_thread.js
follows the latest row, or offers "Jump to latest" when the reader has scrolled up).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import reflex as rx

from api.errors import FunctionError, Unavailable
from api.registry import Caller
from api.vocabulary import STARTED
from app.components.detail import (
    DetailPage,
    add_detail_page,
    back_link,
    detail_grid,
    title_line,
)
from app.components.session import json_details, session_card, session_fields
from app.components.timeline import timeline_entry
from app.components.ui import (
    empty_state,
    if_set,
    inline,
    muted,
    panel,
    relative_time,
    soft_button,
    status_badge,
)
from app.routes import THREAD, THREADS, approval_url, artifact_url
from app.rows import (
    SessionRow,
    ThreadArtifactRow,
    ThreadHeaderRow,
    ThreadRequestRow,
    TimelineRow,
)
from app.state import (
    AuthState,
    backend_url,
    live_threads,
)
from app.worker_reads import session_view, timeline_page

log = logging.getLogger(__name__)

FIRST_PAGE = 50
OLDER_PAGE = 100
SIDE_LIST = 100
# Catching up after a commit reads timeline:list newest first, this many entries at first (a
# batch usually brings one or a few), doubling up to LIVE_PAGE_MAX, until it reaches rows shown.
LIVE_PAGE = 10
LIVE_PAGE_MAX = 200
# More new entries than this since the tab's last push: it reopens on the latest page instead.
LIVE_CATCH_UP = 500
# Live rows move into `entries` past this many, so what each push sends stays small.
LIVE_FOLD = 50
# Another worker's writer may commit a row stamped this long before the newest row shown: rows
# this close to it are read again and told apart by id.
LIVE_OVERLAP_MS = 2_000


def _entry_keys(rows: list[TimelineRow]) -> dict[str, float]:
    return {row._id: row._creationTime for row in rows}


def _rows(page: list[dict[str, Any]]) -> list[TimelineRow]:
    """Display rows (newest first, as timeline:list pages them) as the page's rows, oldest
    first."""
    return [TimelineRow.of(row) for row in reversed(page)]


@dataclass(frozen=True)
class LiveRead:
    """What one catch-up read found: the new entries as display rows, oldest first, and the
    watched rows read again; or, for a tab too far behind, the latest page (`page`) to reopen
    on."""

    rows: list[dict[str, Any]]
    page: dict[str, Any] | None
    again: dict[str, dict[str, Any]]


async def entries_after(
    caller: Caller,
    thread_id: str,
    since: float,
    floor: float,
    shown: dict[str, float],
    watch: frozenset[str] = frozenset(),
) -> tuple[list[dict[str, Any]], bool, dict[str, dict[str, Any]]]:
    """The thread's entries stamped at or after `since` that are not in `shown`, as display
    rows, oldest first, read as `caller` (so exactly what that person may read; in a worker
    process, app/worker_reads.py, as tool inputs and messages can be MiBs); False when there are
    more than LIVE_CATCH_UP of them (then only some are returned). Entries stamped at or before
    `floor` (the oldest of the page the tab opened on) that it does not show are older ones, for
    "Load older", not new. The third value holds the rows read again of the ids in `watch` (tool
    calls shown as started, which a re-record may have finished)."""
    fresh: list[dict[str, Any]] = []
    again: dict[str, dict[str, Any]] = {}
    cursor, size = None, LIVE_PAGE
    while True:
        page = await timeline_page(caller, thread_id, {"numItems": size, "cursor": cursor})
        for doc in page["page"]:
            stamp = doc["_creationTime"]
            if stamp < since:
                return fresh[::-1], True, again
            if doc["_id"] in watch:
                again[doc["_id"]] = doc
            elif doc["_id"] not in shown and stamp > floor:
                fresh.append(doc)
        if page["isDone"]:
            return fresh[::-1], True, again
        if len(fresh) > LIVE_CATCH_UP:
            return fresh[::-1], False, again
        cursor, size = page["continueCursor"], min(LIVE_PAGE_MAX, size * 2)


class ThreadState(DetailPage, AuthState):
    thread: ThreadHeaderRow = ThreadHeaderRow()
    session: SessionRow = SessionRow()
    entries: list[TimelineRow] = []
    older_cursor: str = ""
    has_older: bool = False
    loading_older: bool = False
    artifacts: list[ThreadArtifactRow] = []
    approvals: list[ThreadRequestRow] = []

    @rx.var
    def thread_id(self) -> str:
        """The route's argument (routes.THREAD_ARG), from the browser's router: "" once the
        tab is at another page (then LiveTimeline._pull_live stops)."""
        return self.thread_id_param

    async def _forget(self) -> None:
        self.entries, self.artifacts, self.approvals = [], [], []
        self.thread, self.session = ThreadHeaderRow(), SessionRow()
        (await self.get_state(LiveTimeline))._close()
        # Registered before the first read: a batch committed meanwhile is pulled right after
        # this handler ends (LiveThreads waits for this tab's state).
        live_threads.register(self.router.session.client_token, self._bound, self.thread_id)

    async def _load(self) -> None:
        thread = await self._call("threads:get", {"threadId": self.thread_id})
        self.found = thread is not None
        if thread is None:
            live_threads.forget(self.router.session.client_token)
            return
        self.thread = ThreadHeaderRow.of(thread)
        # A session state and timeline entries can be many MiB: read, decoded and cut in a
        # worker process (app/worker_reads.py).
        caller = self._signed_in_caller()
        self.session = SessionRow.of(await session_view(caller, self.thread_id))
        first = {"numItems": FIRST_PAGE, "cursor": None}
        page = await timeline_page(caller, self.thread_id, first)
        live = await self.get_state(LiveTimeline)
        live._show_latest_page(page, _rows(page["page"]))
        live._live_thread = self.thread_id
        opts = {"numItems": SIDE_LIST, "cursor": None}
        artifacts = await self._call(
            "artifacts:list", {"threadId": self.thread_id, "paginationOpts": opts}
        )
        self.artifacts = [ThreadArtifactRow.of(doc) for doc in artifacts["page"]]
        approvals = await self._call(
            "approvalRequests:list", {"threadId": self.thread_id, "paginationOpts": opts}
        )
        self.approvals = [ThreadRequestRow.of(doc) for doc in approvals["page"]]

    @rx.event
    async def load_older(self):
        if not self.has_older:
            return
        self.loading_older = True
        yield
        async with self._caught("loading_older") as failed:
            older = {"numItems": OLDER_PAGE, "cursor": self.older_cursor}
            page = await timeline_page(self._signed_in_caller(), self.thread_id, older)
        if failed:
            yield failed.event
            return
        self.entries = _rows(page["page"]) + self.entries
        self.older_cursor, self.has_older = page["continueCursor"], not page["isDone"]


class LiveTimeline(ThreadState):
    """The rows that arrived after the page loaded, and what the tab needs to know to read only
    newer ones. A substate of its own: a push changes only these vars, so only they are sent
    and only the components that read them update (the loaded rows, ThreadState.entries, are
    neither sent again nor re-rendered)."""

    live_entries: list[TimelineRow] = []
    # The thread whose rows this tab shows, the newest creation time among them, and the ids of
    # the rows shown that are within LIVE_OVERLAP_MS of it.
    _live_thread: str = ""
    _latest_time: float = 0.0
    _recent: dict[str, float] = {}
    # The stamp of the oldest row of the page the tab opened on, when older ones exist (-1: none).
    _floor: float = -1.0
    # Live tool-call rows shown as "started" (id -> stamp): read again on each push, as the
    # agent records them again when they finish.
    _open_calls: dict[str, float] = {}

    def _close(self) -> None:
        self.live_entries = []
        self._live_thread, self._latest_time, self._recent, self._floor = "", 0.0, {}, -1.0
        self._open_calls = {}

    def _note_shown(self, rows: list[TimelineRow]) -> None:
        keys = {**self._recent, **_entry_keys(rows)}
        latest = max([self._latest_time, *keys.values()])
        self._latest_time = latest
        self._recent = {id_: t for id_, t in keys.items() if t >= latest - LIVE_OVERLAP_MS}

    def _show_latest_page(self, page: dict[str, Any], rows: list[TimelineRow]) -> None:
        self.entries, self.live_entries = rows, []
        self.older_cursor, self.has_older = page["continueCursor"], not page["isDone"]
        self._latest_time, self._recent = 0.0, {}
        self._floor, self._open_calls = -1.0, {}
        if not page["isDone"] and page["page"]:
            self._floor = min(float(doc["_creationTime"]) for doc in page["page"])
        self._note_shown(rows)

    async def _pull_live(
        self,
        caller: Caller,
        thread_id: str,
        reads: dict[tuple, asyncio.Future] | None = None,
        reader: str = "",
    ) -> bool:
        """Appends the entries committed since the rows shown, read with `caller` (the tab's
        own, checked by LiveThreads just before). False if this tab no longer shows `thread_id`.

        `reads` is shared by the tabs of one push: tabs of the same session (`reader`) that show
        the same rows of the thread share one read."""
        if self._live_thread != thread_id or self.thread_id != thread_id:
            return False
        since = max(self._latest_time - LIVE_OVERLAP_MS, self._floor)
        floor, shown = self._floor, dict(self._recent)
        watch = frozenset(self._open_calls)
        if watch:  # read back to the oldest started call; every live row is shown, not new
            since = min(since, *self._open_calls.values())
            shown.update(_entry_keys(self.get_value("live_entries")))

        async def read() -> LiveRead:
            rows, complete, again = await entries_after(
                caller, thread_id, since, floor, shown, watch
            )
            if complete:
                return LiveRead(rows, None, again)
            first = {"numItems": FIRST_PAGE, "cursor": None}
            page = await timeline_page(caller, thread_id, first)
            return LiveRead(page["page"][::-1], page, {})

        try:
            if reads is None:
                fresh = await read()
            else:
                share = (reader, thread_id, since, floor, frozenset(shown), watch)
                if share not in reads:
                    reads[share] = asyncio.ensure_future(read())
                fresh = await reads[share]
        except (FunctionError, Unavailable):
            log.exception("reading new timeline entries failed")
            return True
        rows = [TimelineRow.of(row) for row in fresh.rows]  # each tab's state owns its rows
        if fresh.page is not None:
            self._show_latest_page(fresh.page, rows)
            return True
        live = self.get_value("live_entries")
        again = {id_: TimelineRow.of(doc) for id_, doc in fresh.again.items()}
        changed = [
            index for index, row in enumerate(live) if row._id in again and again[row._id] != row
        ]
        if not rows and not changed:
            return True
        if changed:
            live = list(live)
            for index in changed:
                live[index] = again[live[index]._id]
        self._note_shown(rows)
        if len(live) + len(rows) > LIVE_FOLD:
            self.entries = self.entries + live + rows
            self.live_entries, self._open_calls = [], {}
        else:
            self.live_entries = live + rows
            self._open_calls = {
                row._id: row._creationTime
                for row in live + rows
                if row.kind == "toolCall" and row.status == STARTED
            }
        return True


def _session_panel() -> rx.Component:
    session = ThreadState.session
    recorded = rx.vstack(
        *session_fields(session),
        json_details("plan", session.plan, muted(session.planNotice)),
        json_details("state", session.stateJson),
        spacing="2",
        width="100%",
    )
    return session_card(
        rx.cond(
            session.exists,
            recorded,
            muted("No session recorded (backends use sessions:upsert).", size="2"),
        ),
        test_id="session-panel",
    )


def _side_card(title: str, rows: rx.Var, cells) -> rx.Component:
    """A card listing `rows`, one line of `cells(row)` each, or "None."."""
    return panel(
        rx.heading(title, size="3"),
        rx.cond(
            rows.length() > 0,
            rx.foreach(rows, lambda row: inline(*cells(row), width="100%", wrap="wrap")),
            muted("None.", size="2"),
        ),
    )


def _approval_cells(a: rx.Var) -> list[rx.Component]:
    return [
        rx.link(a._id, href=approval_url(a._id), size="2", class_name="mono"),
        status_badge(a.status),
        rx.spacer(),
        muted(relative_time(a.createdIso)),
    ]


def _artifact_cells(a: rx.Var) -> list[rx.Component]:
    return [
        rx.link(a.title, href=artifact_url(a._id), size="2"),
        rx.badge(a.type, variant="outline"),
        status_badge(a.status),
        muted("v", a.version),
    ]


def _side_lists() -> rx.Component:
    return rx.vstack(
        _session_panel(),
        _side_card("Approval requests", ThreadState.approvals, _approval_cells),
        _side_card("Artifacts", ThreadState.artifacts, _artifact_cells),
        spacing="3",
        width="100%",
        min_width="0",
    )


def _keyed_entry(entry: rx.Var) -> rx.Component:
    # Keyed by id: when rows are added (live, or "Load older"), the browser keeps the ones shown.
    return rx.fragment(timeline_entry(entry), key=entry["_id"])


def _jump_to_latest() -> rx.Component:
    """Shown (by assets/live_thread.js) when new rows arrived below while the reader was
    scrolled up; at the bottom, the page follows new rows instead."""
    label = (rx.icon("arrow-down", size=14), "New entries · Jump to latest")
    button = rx.button(
        *label,
        size="2",
        radius="full",
        data_testid="jump-to-latest",
        class_name="jump-to-latest-button",
    )
    return rx.box(button, class_name="jump-to-latest")


def _load_older() -> rx.Component:
    """The page before the oldest entry shown (timeline:list's cursor)."""
    label = (rx.icon("chevrons-up", size=14), "Load older")
    older, busy = ThreadState.load_older, ThreadState.loading_older
    return soft_button(*label, on_click=older, loading=busy, width="100%", data_testid="load-older")


def _no_entries() -> rx.Component:
    return empty_state(
        "No messages or tool calls yet",
        rx.text(
            "Backends add them with ",
            rx.code("messages:create"),
            " and ",
            rx.code("toolCalls:record"),
            ".",
            color_scheme="gray",
        ),
        icon="message-square",
    )


def _timeline() -> rx.Component:
    entries = rx.vstack(
        rx.foreach(ThreadState.entries, _keyed_entry),
        rx.foreach(LiveTimeline.live_entries, _keyed_entry),
        spacing="2",
        width="100%",
        class_name="timeline",
        data_testid="timeline",
    )
    return rx.vstack(
        rx.cond(ThreadState.has_older, _load_older()),
        rx.cond(
            (ThreadState.entries.length() > 0) | (LiveTimeline.live_entries.length() > 0),
            entries,
            _no_entries(),
        ),
        _jump_to_latest(),
        spacing="2",
        width="100%",
        min_width="0",
    )


def _export_button(label: str, extension: str) -> rx.Component:
    """A download of this thread's export, straight from GET /api/export/threads/{id}.{ext}
    (api/exports.py) with the session cookie: the file never passes through the page's state.
    The page's script takes the thread's id from the address it is at."""
    script = f"window.threadlineSession.exportThread({json.dumps(backend_url())}, {extension!r})"
    return rx.button(
        rx.icon("download", size=14),
        label,
        variant="soft",
        on_click=rx.call_script(script),
        data_testid=f"export-{'markdown' if extension == 'md' else extension}",
    )


def _heading() -> rx.Component:
    thread = ThreadState.thread
    return rx.vstack(
        title_line(thread.title, "(untitled thread)", status_badge(thread.status)),
        muted(
            rx.code(thread._id),
            " · created ",
            thread.createdText,
            if_set(thread.userId, rx.fragment(" · user ", rx.code(thread.userId))),
            size="2",
        ),
        spacing="1",
    )


def _detail() -> rx.Component:
    return rx.vstack(
        back_link("Threads", THREADS),
        inline(
            _heading(),
            rx.spacer(),
            rx.flex(_export_button("JSON", "json"), _export_button("Markdown", "md"), spacing="2"),
            width="100%",
            wrap="wrap",
            spacing="3",
        ),
        detail_grid(_timeline(), _side_lists(), lg="3", class_name="thread-grid"),
        spacing="3",
        width="100%",
    )


def add(app: rx.App) -> None:
    add_detail_page(app, ThreadState, _detail, THREAD, "Thread", ("threads", THREADS))
