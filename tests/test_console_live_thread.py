"""The live thread view's registry (app/state.py LiveThreads) without a browser: what reaches an
open thread tab after a commit, and what never does. The tabs are real Reflex states; the app is
a stand-in that knows which sockets are connected to this worker and with which handshake cookie
(what Reflex's token manager and socket namespace know). The browser side is
tests/e2e/test_thread_live.py.
"""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import pytest
import reflex as rx
from reflex.istate.data import RouterData

import app.app  # noqa: F401  (registers every page state under the root state)
from api.services import signin
from api.vocabulary import SYNC_TOUCHED
from app.pages import thread as thread_page
from app.pages.thread import LiveTimeline, ThreadState
from app.rows import ThreadHeaderRow, TimelineRow
from app.state import AuthState, LiveThreads, session_key

HERE = "this-worker"


class FakeApp:
    """What LiveThreads uses of rx.App: the socket namespace and modify_state."""

    def __init__(self) -> None:
        manager = SimpleNamespace(token_to_socket={}, instance_id=HERE)
        self.event_namespace = SimpleNamespace(_token_manager=manager, _static_router_data={})
        self.roots: dict[str, rx.State] = {}

    @contextlib.asynccontextmanager
    async def modify_state(self, token):
        yield self.roots[token.ident]

    def connect(self, tab: str, session_token: str, instance_id: str = HERE) -> None:
        """The tab's socket connects (to this worker, or another) with this session cookie."""
        sid = f"sid-{tab}"
        namespace = self.event_namespace
        namespace._token_manager.token_to_socket[tab] = SimpleNamespace(
            sid=sid, instance_id=instance_id
        )
        namespace._static_router_data[sid] = {
            "headers": {"cookie": f"threadline_session={session_token}"}
        }


async def open_tab(
    fake: FakeApp, live: LiveThreads, tab: str, session_token: str, thread_id: str
) -> LiveTimeline:
    """A tab that opened /threads/{thread_id} as the person of `session_token` and loaded it."""
    root = rx.State(_reflex_internal_init=True)
    data = {
        "pathname": "/threads/[thread_id_param]",
        "asPath": f"/threads/{thread_id}",
        # What the browser's router sends on the thread's page: the route's argument.
        "query": {"thread_id_param": thread_id},
        "headers": {
            "origin": "http://console.test",
            "host": "console.test",
            "cookie": f"threadline_session={session_token}",
        },
        "token": tab,
        "sid": f"sid-{tab}",
    }
    root.router_data = data
    root.router = RouterData.from_router_data(data)
    (await root.get_state(AuthState))._bound = session_key(session_token)
    fake.roots[tab] = root
    fake.connect(tab, session_token)
    live.register(tab, session_key(session_token), thread_id)
    thread_state = await root.get_state(ThreadState)
    if thread_state._caller() is not None:
        await thread_state._load()
    root._clean()
    return await root.get_state(LiveTimeline)


@pytest.fixture
def live():
    registry = LiveThreads()
    fake = FakeApp()
    registry.attach(fake, LiveTimeline)
    return registry, fake


async def post_message(api, thread_id: str, content: str) -> str:
    return await api.mutation(
        "messages:create", {"threadId": thread_id, "role": "assistant", "content": content}
    )


def contents(rows: list[TimelineRow]) -> list[str]:
    return [row.content or row.toolName for row in rows]


async def test_an_open_thread_tab_gets_only_the_new_rows_of_its_own_thread(api, people, live):
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    other = await api.mutation("threads:create", {"title": "Other"})
    await post_message(api, mine, "already there")
    page = await open_tab(fake, registry, "tab-1", people["reviewer"]["token"], mine)
    shown = page.get_value("entries")
    assert contents(shown) == ["already there"]

    await post_message(api, mine, "first new")
    await post_message(api, other, "not for this tab")
    await api.mutation("toolCalls:record", {"threadId": mine, "toolName": "grep", "input": {}})
    await registry._push_all({mine, other})

    assert contents(page.live_entries) == ["first new", "grep"]
    # Only the new rows changed: the rows shown are not sent again.
    assert "live_entries" in page.dirty_vars
    assert page.parent_state.dirty_vars == set()
    delta = page._get_root_state().get_delta()  # what Reflex sends the tab
    assert list(delta) == [LiveTimeline.get_full_name()]
    assert "Mine" not in str(delta) and "already there" not in str(delta)
    assert page.get_value("entries") is shown  # the same list object, untouched
    page._get_root_state()._clean()

    await registry._push_all({mine})  # nothing new: nothing sent, nothing repeated
    assert contents(page.live_entries) == ["first new", "grep"]
    assert "live_entries" not in page.dirty_vars


async def test_a_commit_on_another_thread_schedules_nothing(api, people, live):
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    await open_tab(fake, registry, "tab-1", people["viewer"]["token"], mine)
    registry.on_sync_touched(SYNC_TOUCHED, {"touched": [["messages", "thr_elsewhere"]]})
    registry.on_sync_touched(SYNC_TOUCHED, {"touched": [["artifacts", mine], "bad", [1]]})
    assert registry.pending == set() and registry.task is None
    registry.on_sync_touched(SYNC_TOUCHED, {"touched": [["messages", mine]]})
    assert registry.pending == {mine} and registry.task is not None
    await registry.task
    assert registry.pending == set()


async def test_bursts_of_batches_coalesce_into_one_more_run(api, people, live, monkeypatch):
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    await open_tab(fake, registry, "tab-1", people["reviewer"]["token"], mine)
    runs = []
    real = registry._push_all

    async def counted(threads):
        runs.append(set(threads))
        await real(threads)

    monkeypatch.setattr(registry, "_push_all", counted)
    for _ in range(20):
        registry.on_sync_touched(SYNC_TOUCHED, {"touched": [["messages", mine]]})
    await registry.task
    assert runs == [{mine}]


async def test_a_tab_whose_session_ended_gets_nothing_more_and_is_wiped(api, people, live):
    registry, fake = live
    token = people["reviewer"]["token"]
    mine = await api.mutation("threads:create", {"title": "Secret thread"})
    await post_message(api, mine, "before the end")
    page = await open_tab(fake, registry, "tab-1", token, mine)
    assert contents(page.entries) == ["before the end"]

    await signin.sign_out(token)
    await post_message(api, mine, "after the end")
    await registry._push_all({mine})

    assert page.entries == [] and page.live_entries == [] and page.thread == ThreadHeaderRow()
    assert (await page.get_state(AuthState)).session_ended
    assert "tab-1" not in registry.tabs and "tab-1" not in registry.threads
    await post_message(api, mine, "later still")
    await registry._push_all({mine})
    assert page.live_entries == []


async def test_an_end_users_tab_never_gets_rows_not_even_of_their_own_thread(api, people, live):
    """The console is for staff: an end user's session opens no thread tab, and a registration
    forged for one (another person's thread, or their own) is ended before anything is read."""
    registry, fake = live
    user = people["user"]
    theirs = await api.mutation("threads:create", {"title": "Theirs", "userId": user["id"]})
    someone_elses = await api.mutation("threads:create", {"title": "Not theirs", "userId": "u2"})
    own = await open_tab(fake, registry, "tab-own", user["token"], theirs)
    other = await open_tab(fake, registry, "tab-other", user["token"], someone_elses)
    assert own.entries == other.entries == []
    await post_message(api, theirs, "for the user")
    await post_message(api, someone_elses, "for someone else")
    await registry._push_all({theirs, someone_elses})
    assert own.live_entries == other.live_entries == []
    assert registry.tabs == {}


async def test_a_socket_presenting_another_session_than_its_tabs_gets_nothing(api, people, live):
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    page = await open_tab(fake, registry, "tab-1", people["reviewer"]["token"], mine)
    # The tab's client token, presented by a socket that connected with the viewer's cookie.
    fake.connect("tab-1", people["viewer"]["token"])
    await post_message(api, mine, "not for the impostor")
    await registry._push_all({mine})
    assert page.live_entries == [] and "tab-1" not in registry.tabs


async def test_tabs_connected_to_another_worker_are_left_to_that_worker(api, people, live):
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    page = await open_tab(fake, registry, "tab-1", people["reviewer"]["token"], mine)
    fake.connect("tab-1", people["reviewer"]["token"], instance_id="another-worker")
    await post_message(api, mine, "pushed by the other worker")
    await registry._push_all({mine})
    assert page.live_entries == [] and "tab-1" in registry.tabs


async def test_a_tab_that_moved_to_another_page_is_forgotten(api, people, live):
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    page = await open_tab(fake, registry, "tab-1", people["reviewer"]["token"], mine)
    root = page._get_root_state()
    data = {**root.router_data, "pathname": "/approvals", "asPath": "/approvals", "query": {}}
    root.router_data, root.router = data, RouterData.from_router_data(data)
    await post_message(api, mine, "the tab is elsewhere")
    await registry._push_all({mine})
    assert page.live_entries == [] and "tab-1" not in registry.tabs


async def test_live_rows_fold_into_the_timeline_past_the_fold(api, people, live, monkeypatch):
    monkeypatch.setattr(thread_page, "LIVE_FOLD", 3)
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    page = await open_tab(fake, registry, "tab-1", people["reviewer"]["token"], mine)
    for i in range(3):
        await post_message(api, mine, f"m{i}")
        await registry._push_all({mine})
    assert contents(page.entries) == [] and contents(page.live_entries) == ["m0", "m1", "m2"]
    await post_message(api, mine, "m3")
    await registry._push_all({mine})
    assert contents(page.entries) == ["m0", "m1", "m2", "m3"] and page.live_entries == []


async def test_a_tab_far_behind_reopens_on_the_latest_page(api, people, live, monkeypatch):
    monkeypatch.setattr(thread_page, "LIVE_CATCH_UP", 5)
    monkeypatch.setattr(thread_page, "FIRST_PAGE", 4)
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    page = await open_tab(fake, registry, "tab-1", people["reviewer"]["token"], mine)
    for i in range(12):
        await post_message(api, mine, f"m{i}")
    await registry._push_all({mine})
    assert contents(page.entries) == ["m8", "m9", "m10", "m11"] and page.has_older
    assert page.live_entries == []
    await post_message(api, mine, "m12")
    await registry._push_all({mine})
    assert contents(page.live_entries) == ["m12"]


async def test_rows_older_than_the_opening_page_are_never_taken_for_new_ones(
    api, people, live, monkeypatch
):
    monkeypatch.setattr(thread_page, "FIRST_PAGE", 3)
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    for i in range(6):  # all stamped within LIVE_OVERLAP_MS of each other
        await post_message(api, mine, f"m{i}")
    page = await open_tab(fake, registry, "tab-1", people["reviewer"]["token"], mine)
    assert contents(page.entries) == ["m3", "m4", "m5"] and page.has_older
    await post_message(api, mine, "m6")
    await registry._push_all({mine})
    assert contents(page.live_entries) == ["m6"]


async def test_a_row_committed_late_with_an_earlier_stamp_still_arrives_once(api, people, live):
    """Another worker's writer may commit a row stamped just before the newest one shown."""
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    await post_message(api, mine, "shown")
    page = await open_tab(fake, registry, "tab-1", people["reviewer"]["token"], mine)
    latest = page._latest_time
    late = await post_message(api, mine, "late")
    # As if stamped 1 s before the newest row the tab shows.
    from api.db import get_engine
    from models import Message

    with get_engine().begin() as conn:
        table = Message.__table__
        conn.execute(table.update().where(table.c.id == late).values(creation_time=latest - 1000))
    await registry._push_all({mine})
    await registry._push_all({mine})
    assert contents(page.live_entries) == ["late"]


async def test_large_tool_inputs_are_shown_as_a_bounded_preview(api, people, live):
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    page = await open_tab(fake, registry, "tab-1", people["reviewer"]["token"], mine)
    big = {"files": ["x" * 1000 for _ in range(2000)]}  # 2 MB of JSON
    await api.mutation("toolCalls:record", {"threadId": mine, "toolName": "write", "input": big})
    await registry._push_all({mine})
    (row,) = page.live_entries
    assert len(row.inputJson) < 21_000 and "more characters" in row.inputJson


async def test_tabs_of_one_session_share_a_read_and_other_sessions_read_their_own(
    api, people, live, monkeypatch
):
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    reviewer, viewer = people["reviewer"]["token"], people["viewer"]["token"]
    pages = [await open_tab(fake, registry, f"r{i}", reviewer, mine) for i in range(3)]
    pages.append(await open_tab(fake, registry, "v0", viewer, mine))
    readers = []
    real = thread_page.entries_after

    async def counted(caller, *args):
        readers.append(caller.id)
        return await real(caller, *args)

    monkeypatch.setattr(thread_page, "entries_after", counted)
    await post_message(api, mine, "shared")
    await registry._push_all({mine})
    assert sorted(readers) == sorted([people["reviewer"]["id"], people["viewer"]["id"]])
    assert all(contents(page.live_entries) == ["shared"] for page in pages)
    first, second = (page.get_value("live_entries")[0] for page in pages[:2])
    assert first == second and first is not second  # each tab's state owns its rows


async def test_a_live_tool_call_recorded_again_when_it_finishes_shows_its_new_state(
    api, people, live
):
    registry, fake = live
    mine = await api.mutation("threads:create", {"title": "Mine"})
    page = await open_tab(fake, registry, "tab-1", people["reviewer"]["token"], mine)
    call = {"threadId": mine, "toolName": "build", "toolCallId": "call-1", "input": {"n": 1}}
    await api.mutation("toolCalls:record", {**call, "status": "started"})
    await registry._push_all({mine})
    assert [row.status for row in page.live_entries] == ["started"]
    await post_message(api, mine, "while it runs")
    await registry._push_all({mine})
    await api.mutation(
        "toolCalls:record", {**call, "status": "succeeded", "output": {"artifact": "ok"}}
    )
    await registry._push_all({mine})
    rows = page.get_value("live_entries")
    assert [(row.toolName or row.content) for row in rows] == ["build", "while it runs"]
    assert rows[0].status == "succeeded" and '"artifact": "ok"' in rows[0].outputJson
    assert page._open_calls == {}
    await post_message(api, mine, "after")  # nothing read again once it finished
    await registry._push_all({mine})
    assert contents(page.live_entries) == ["build", "while it runs", "after"]
