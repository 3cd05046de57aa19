"""CPU-heavy work runs in worker processes (api/processes.py), not in the server's process.

The artifact and approval pages' diff is read and computed there (app/components/versions.py):
it gives what compare() gives in-process, refuses what the caller may not read, and a worker that
dies or hangs gives a clear error and is replaced. After shutdown nothing is left running.
Timings are in bench/heavy_artifact.py.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

import psutil
import pytest

from api import processes
from api.credentials import caller_for
from api.errors import FunctionError
from api.processes import WorkFailed, in_worker_process
from app import worker_reads
from app.components import versions
from app.components.diff import (
    CUT_HERE,
    MAX_DIFF_CHARS,
    MAX_DIFF_LINES,
    TOO_LARGE,
    Comparison,
    compare,
    compare_in_worker,
)
from app.components.versions import open_artifact, version_diff
from app.formatting import CUT_NOTE, MAX_RENDER_CHARS, PREVIEW_JSON_CHARS, cut_for_display
from app.worker_reads import MAX_ENTRY_CHARS


# Jobs for the worker processes: module-level, so that a spawned process can import them.
def worker_pid() -> int:
    return os.getpid()


def die() -> None:
    os._exit(3)  # as a crash in C or the out-of-memory killer would: no exception, no answer


def hang() -> None:
    time.sleep(600)


def refuse() -> None:
    raise FunctionError("refused in the worker")


@pytest.fixture
def fresh_pool():
    """Each test starts without worker processes and leaves none behind."""
    processes.shutdown()
    yield
    processes.shutdown()


def alternating(count: int, first: str, second: str) -> str:
    return "\n".join(first if index % 2 == 0 else second for index in range(count))


SMALL_PAIRS = [
    ("a\nb\nc\n", "a\nB\nc\n"),
    ("same\n" * 50, "same\n" * 50),
    ("", "new text"),
    ("one\ntwo\nthree\nfour", "zero\none\nthree\nfour\nfive"),
    ("\n".join(f"line {n}" for n in range(300)), "\n".join(f"line {n}" for n in range(5, 310))),
]


# ---- the pool ----------------------------------------------------------------------------------


async def test_a_job_runs_in_another_process_started_on_first_use(fresh_pool):
    assert processes.running_processes() == []

    pid = await in_worker_process(worker_pid)

    assert pid != os.getpid()
    assert pid in processes.running_processes()
    assert len(processes.running_processes()) <= processes.PROCESSES


@pytest.mark.parametrize(("old", "new"), SMALL_PAIRS)
async def test_the_diff_in_a_worker_process_equals_the_diff_in_process(fresh_pool, old, new):
    assert await compare_in_worker(old, new) == compare(old, new)


async def test_too_large_to_compare_falls_back_in_the_worker_process_too(fresh_pool):
    old = alternating(12_000, "- step", "- check")
    new = alternating(12_000, "- check", "- step")

    comparison = await compare_in_worker(old, new)

    assert TOO_LARGE in comparison.notice
    assert comparison == compare(old, new)


async def test_an_exception_in_the_job_is_raised_as_it_was(fresh_pool):
    with pytest.raises(FunctionError, match="refused in the worker"):
        await in_worker_process(refuse)
    assert await in_worker_process(worker_pid) in processes.running_processes()


async def test_a_worker_process_that_dies_gives_a_clear_error_and_is_replaced(fresh_pool):
    before = await in_worker_process(worker_pid)

    with pytest.raises(WorkFailed, match="stopped unexpectedly.*Try again"):
        await in_worker_process(die)

    assert not psutil.pid_exists(before) or psutil.Process(before).status() == "zombie"
    after = await in_worker_process(worker_pid)
    assert after != before and after in processes.running_processes()
    assert await compare_in_worker("a\nb", "a\nc") == compare("a\nb", "a\nc")


async def test_a_job_that_does_not_finish_in_time_is_stopped_with_a_clear_error(fresh_pool):
    hung = await in_worker_process(worker_pid)

    with pytest.raises(WorkFailed, match="longer than 0.5 s"):
        await in_worker_process(hang, timeout=0.5)

    assert hung not in processes.running_processes()
    assert not psutil.pid_exists(hung) or psutil.Process(hung).status() == "zombie"
    assert await in_worker_process(worker_pid) in processes.running_processes()


async def test_shutdown_leaves_no_process_or_thread_running(fresh_pool):
    await in_worker_process(worker_pid)
    started = processes.running_processes()
    assert started

    processes.shutdown()

    assert processes.running_processes() == []
    assert all(not psutil.pid_exists(pid) for pid in started)
    children = psutil.Process().children(recursive=True)
    assert not [child for child in children if child.pid in started]
    # The executor's manager thread ends with its processes.
    assert not [t for t in threading.enumerate() if "ExecutorManagerThread" in type(t).__name__]
    # A later call starts a new pool.
    assert await in_worker_process(worker_pid) in processes.running_processes()


async def test_shutdown_stops_a_busy_worker_process(fresh_pool, monkeypatch):
    monkeypatch.setattr(processes, "SHUTDOWN_GRACE_SECONDS", 0.2)
    busy = await in_worker_process(worker_pid)

    waiting = asyncio.ensure_future(in_worker_process(hang))
    await asyncio.sleep(0.2)

    await asyncio.to_thread(processes.shutdown)

    assert not psutil.pid_exists(busy) or psutil.Process(busy).status() == "zombie"
    with pytest.raises(WorkFailed):
        await waiting


# ---- stored versions, read by the worker process -----------------------------------------------


async def two_versions(api, thread_id: str, first: str, second: str) -> str:
    artifact_id = await api.mutation(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": first}
    )
    await api.mutation("artifacts:update", {"artifactId": artifact_id, "content": second})
    return artifact_id


@pytest.mark.parametrize(("old", "new"), SMALL_PAIRS[:1] + SMALL_PAIRS[3:])
async def test_stored_versions_compared_in_the_worker_equal_compare_in_process(
    fresh_pool, api, thread_id, people, old, new
):
    """On SQLite and PostgreSQL: the worker opens its own connection to the same database."""
    artifact_id = await two_versions(api, thread_id, old, new)
    viewer = await caller_for(people["viewer"]["token"])

    comparison = await version_diff(viewer, artifact_id, 1, 2)

    assert comparison == compare(old, new)
    assert comparison.lines


async def test_the_worker_reads_versions_as_the_caller(fresh_pool, api, thread_id, people):
    """The registered query's role check runs in the worker: an end user may not read them."""
    artifact_id = await two_versions(api, thread_id, "a", "b")
    user = await caller_for(people["user"]["token"])

    with pytest.raises(FunctionError, match="Not allowed"):
        await version_diff(user, artifact_id, 1, 2)


async def test_a_missing_version_gives_no_diff(fresh_pool, api, thread_id, people):
    artifact_id = await two_versions(api, thread_id, "a", "b")
    viewer = await caller_for(people["viewer"]["token"])

    assert await version_diff(viewer, artifact_id, 1, 9) == Comparison()


async def test_an_in_memory_database_is_read_here_and_compared_in_the_worker(
    fresh_pool, api, thread_id, people, monkeypatch
):
    """A worker process cannot open this process's in-memory database: the texts are read in
    the query threads and sent; the result is the same."""
    old, new = SMALL_PAIRS[3]
    artifact_id = await two_versions(api, thread_id, old, new)
    viewer = await caller_for(people["viewer"]["token"])
    sent: list[tuple] = []
    real = versions.compare_in_worker

    async def recording(old_text, new_text):
        sent.append((old_text, new_text))
        return await real(old_text, new_text)

    monkeypatch.setattr(versions, "in_memory", lambda _url: True)
    monkeypatch.setattr(versions, "compare_in_worker", recording)

    assert await version_diff(viewer, artifact_id, 1, 2) == compare(old, new)
    assert sent == [(old, new)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_crash_while_the_page_opens_is_a_clear_error(
    fresh_pool, api, thread_id, people, monkeypatch
):
    artifact_id = await two_versions(api, thread_id, "a", "b")
    viewer = await caller_for(people["viewer"]["token"])

    async def crashing(function, *args, **kwargs):
        return await in_worker_process(die)

    monkeypatch.setattr(versions, "in_worker_process", crashing)

    with pytest.raises(WorkFailed, match="stopped unexpectedly"):
        await open_artifact(viewer, artifact_id)


# ---- what a diff sends to the page is bounded ---------------------------------------------------


def test_many_long_changed_lines_are_cut_by_characters_as_well_as_rows():
    """4,000 lines of 2,000 characters, each changed: within the work budget (nothing
    repeats), but shown whole it would be 16 MB in the page's state."""
    old = "\n".join(f"{n:05d} " + "o" * 1994 for n in range(4000))
    new = "\n".join(f"{n:05d} " + "n" * 1994 for n in range(4000))

    comparison = compare(old, new)

    assert comparison.notice == ""
    assert len(comparison.lines) <= MAX_DIFF_LINES + 1
    assert sum(len(row["text"]) for row in comparison.lines) <= MAX_DIFF_CHARS + 100
    assert comparison.lines[-1]["text"] == CUT_HERE


def test_the_fallback_shows_both_sides_within_the_character_bound():
    old = alternating(12_000, "o" * 1999, "p" * 1999)
    new = alternating(12_000, "p" * 1999, "o" * 1999)

    comparison = compare(old, new)

    assert TOO_LARGE in comparison.notice
    kinds = [row["kind"] for row in comparison.lines]
    assert "del" in kinds and "add" in kinds
    assert sum(len(row["text"]) for row in comparison.lines) <= MAX_DIFF_CHARS + 1000
    texts = [row["text"] for row in comparison.lines]
    assert any(text.endswith("more removed lines") for text in texts)
    assert any(text.endswith("more added lines") for text in texts)


async def test_the_server_lifespan_stops_the_worker_processes(fresh_pool):
    """app/app.py registers processes.lifespan with Reflex; at the end nothing is left."""
    async with processes.lifespan():
        started = [await in_worker_process(worker_pid)]
        assert started[0] in processes.running_processes()

    assert processes.running_processes() == []
    assert not psutil.pid_exists(started[0])


# ---- page reads in the worker processes (app/worker_reads.py) -----------------------------------


async def test_the_session_is_read_decoded_and_previewed_in_the_worker(
    fresh_pool, api, thread_id, people
):
    """A big state comes back as its preview only; the fields are what session_row makes of
    sessions:get in-process."""
    state = {"rows": [{"step": number, "note": "x" * 60} for number in range(2000)]}
    await api.mutation(
        "sessions:upsert", {"threadId": thread_id, "phase": "planning", "state": state}
    )
    viewer = await caller_for(people["viewer"]["token"])

    shown = await worker_reads.session_view(viewer, thread_id)

    expected = worker_reads.session_row(await api.query("sessions:get", {"threadId": thread_id}))
    assert shown == expected
    assert shown["phase"] == "planning" and shown["exists"]
    assert shown["stateJson"].endswith(CUT_NOTE)
    assert len(shown["stateJson"]) < PREVIEW_JSON_CHARS + 100


async def test_a_timeline_page_is_made_in_the_worker_as_in_process(
    fresh_pool, api, thread_id, people
):
    for content in ("first", "y" * (MAX_ENTRY_CHARS * 3)):
        message = {"threadId": thread_id, "role": "assistant", "content": content}
        await api.mutation("messages:create", message)
    viewer = await caller_for(people["viewer"]["token"])
    opts = {"numItems": 10, "cursor": None}

    page = await worker_reads.timeline_page(viewer, thread_id, opts)

    listed = await api.query("timeline:list", {"threadId": thread_id, "paginationOpts": opts})
    assert page == worker_reads.timeline_page_rows(listed)
    newest, oldest = page["page"]
    assert oldest["content"] == "first" and oldest["contentNotice"] == ""
    assert len(newest["content"]) == MAX_ENTRY_CHARS and newest["contentNotice"]


async def test_page_reads_in_the_worker_keep_the_role_checks(fresh_pool, api, thread_id, people):
    user = await caller_for(people["user"]["token"])

    with pytest.raises(FunctionError, match="Not allowed"):
        await worker_reads.timeline_page(user, thread_id, {"numItems": 5, "cursor": None})


async def test_the_approval_page_gets_the_request_with_its_plan_cut_as_before(
    fresh_pool, api, thread_id, people
):
    """request_view cuts in the worker; the page's cut_for_display then gives what it gave on
    the whole plan."""
    plan = "\n".join(f"step {number} " + "x" * 50 for number in range(5000))  # 300 KB
    request_id = await api.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": plan}
    )
    viewer = await caller_for(people["viewer"]["token"])

    doc = await worker_reads.request_view(viewer, request_id)

    assert doc["planChars"] == len(plan) and len(doc["planContent"]) <= MAX_RENDER_CHARS
    assert doc["editedPlanChars"] == 0 and doc["editedPlan"] == ""
    whole = await api.query("inbox:detail", {"approvalRequestId": request_id})
    assert cut_for_display(doc["planContent"], doc["planChars"]) == cut_for_display(plan)
    assert {key: doc[key] for key in whole if key not in ("planContent", "editedPlan")} == {
        key: value for key, value in whole.items() if key not in ("planContent", "editedPlan")
    }
    assert await worker_reads.request_view(viewer, "apr_missing") is None


async def test_the_artifact_page_gets_the_artifact_without_its_content(
    fresh_pool, api, thread_id, people
):
    artifact_id = await two_versions(api, thread_id, "one", "two " * 1000)
    viewer = await caller_for(people["viewer"]["token"])

    doc = await worker_reads.artifact_view(viewer, artifact_id)

    whole = await api.query("artifacts:get", {"artifactId": artifact_id})
    assert "content" not in doc
    assert doc == {key: value for key, value in whole.items() if key != "content"}


def niceness() -> int:
    return os.nice(0)


async def test_worker_processes_run_at_a_lower_cpu_priority_than_the_server(fresh_pool):
    assert await in_worker_process(niceness) == min(19, os.nice(0) + processes.WORKER_NICENESS)
