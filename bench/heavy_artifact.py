"""/api/health while a viewer opens an 8 MiB, 100,000-line artifact with two versions.

    .venv/bin/python bench/heavy_artifact.py [--lines 100000] [--runs 3] [--repeated]
        [--page artifact|approval]
    THREADLINE_TREE=/path/to/an/older/checkout .venv/bin/python bench/heavy_artifact.py  # before

One process, as in production: the API (uvicorn, serving api.http) and the viewer's page work run
on the same event loop. The page work is what the artifact page does when it opens, measured two
ways in the same run, alternately: "process", this tree's open_artifact (sizes, a cut text, a
bounded diff whose texts a worker process reads and compares: api/processes.py), and "thread",
the same page as it was before the worker processes (the diff's two whole texts read in the query
threads, compared in a thread). Then what the page keeps is JSON-encoded on the loop, as Reflex
encodes the state delta it sends. With THREADLINE_TREE set to a tree from before issue 9 (no
app/components/versions.py), the first release's sequence instead (artifacts:get,
artifacts:versions, difflib over both whole texts on the loop).

A separate process (a monitor is outside the server, and a thread would share the server's GIL)
asks /api/health every 20 ms meanwhile and records how long each answer took. Prints p50 / p95 /
max per run and over all runs, and the load average (the machines are shared); asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

TREE = Path(os.environ.get("THREADLINE_TREE") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(TREE))

import httpx  # noqa: E402
import uvicorn  # noqa: E402


def artifact_texts(lines: int, repeated: bool = False) -> tuple[str, str]:
    """About 8 MiB of numbered lines; the second version differs in two places. `repeated`:
    the issue's attack instead, two lines taking turns, the second version shifted by one."""
    width = 8 * 1024 * 1024 // lines - 1
    if repeated:
        step, check = "- step".ljust(width, "."), "- check".ljust(width, ".")
        first = "\n".join(step if n % 2 == 0 else check for n in range(lines))
        return first, "\n".join(check if n % 2 == 0 else step for n in range(lines))
    rows = [f"{number:07d} " + "x" * (width - 8) for number in range(lines)]
    first = "\n".join(rows)
    rows[10], rows[-10] = "changed near the top", "changed near the end"
    return first, "\n".join(rows)


async def seed(lines: int, repeated: bool):
    from api.auth import caller_for
    from api.calls import call
    from api.cli import CLI_CALLER
    from api.services.signin import sign_in

    await call(
        "users:create",
        {"email": "v@example.com", "name": "V", "role": "viewer", "password": "viewer-pass-1"},
        CLI_CALLER,
    )
    viewer = await caller_for((await sign_in("v@example.com", "viewer-pass-1")).token)
    first, second = artifact_texts(lines, repeated)
    thread_id = await call("threads:create", {"title": "big"}, CLI_CALLER)
    artifact_id = await call(
        "artifacts:create", {"threadId": thread_id, "type": "plan", "content": first}, CLI_CALLER
    )
    await call("artifacts:update", {"artifactId": artifact_id, "content": second}, CLI_CALLER)
    # For the approval page: the plan's request, an 8 MiB session state and two 8 MiB messages.
    request_id = await call(
        "approvalRequests:create",
        {"threadId": thread_id, "planContent": second, "artifactId": artifact_id},
        CLI_CALLER,
    )
    rows = [{"step": number, "note": "x" * 60} for number in range(len(second) // 80)]
    await call("sessions:upsert", {"threadId": thread_id, "state": {"rows": rows}}, CLI_CALLER)
    for text in (first, second):
        message = {"threadId": thread_id, "role": "assistant", "content": text}
        await call("messages:create", message, CLI_CALLER)
    return viewer, artifact_id, request_id


async def open_page(viewer, artifact_id: str, how: str) -> str:
    """What the artifact page does on opening. `how`: "process", this tree's page (the diff's
    texts read and compared in a worker process); "thread", the same page with the diff's texts
    read in the query threads and compared in a thread (before the worker processes); "release",
    a tree from before issue 9 (the first release's page: whole versions, difflib on the loop).
    What the page keeps is then encoded on the loop, as Reflex encodes a state delta."""
    from api.calls import call

    async def as_viewer(path, args):
        return await call(path, args, viewer)

    if how == "release":
        from app.components.diff import diff_lines

        await as_viewer("artifacts:get", {"artifactId": artifact_id})
        versions = await as_viewer("artifacts:versions", {"artifactId": artifact_id})
        diff_lines(versions[-2]["content"], versions[-1]["content"])
        return "first release (whole versions, difflib on the loop)"
    from reflex_base.utils.format import json_dumps

    from app.components import versions

    if how == "thread":
        from app.components.diff import compare

        doc = await as_viewer("artifacts:get", {"artifactId": artifact_id})
        rows = await versions.version_rows(as_viewer, artifact_id)
        text, notice = await versions.shown_text(as_viewer, artifact_id, doc["version"])
        old = await versions.whole_text(as_viewer, artifact_id, rows[-2]["version"])
        new = await versions.whole_text(as_viewer, artifact_id, rows[-1]["version"])
        comparison = await asyncio.to_thread(compare, old, new)
        json_dumps({"versions": rows, "text": text, "notice": notice, "diff": comparison.lines})
        return "thread: diff texts read in the query threads, compared in a thread"
    opened = await versions.open_artifact(viewer, artifact_id)
    json_dumps({**opened, "diff": opened["diff"].lines})
    return "process: diff texts read and compared in a worker process"


async def open_approval(viewer, request_id: str, how: str) -> str:
    """What the approval page (app/pages/approval.py, ApprovalState._load) does on opening, with
    this tree's pieces: the request with its plan cut for display, the session state as JSON,
    the last 12 timeline entries, the plan artifact's versions and their diff. "process": the
    request, the session, the entries and the diff read, decoded, cut and compared in worker
    processes
    (app/worker_reads.py); "thread": read in the query threads, shaped on the loop, compared in
    a thread. Then what the page keeps is encoded on the loop."""
    from reflex_base.utils.format import json_dumps

    from api.calls import call
    from app.components import versions
    from app.formatting import pretty_json
    from app.pages.approval import RECENT_ENTRIES

    async def as_viewer(path, args):
        return await call(path, args, viewer)

    recent_page = {"numItems": RECENT_ENTRIES, "cursor": None}
    if how == "process":
        from app import worker_reads

        doc = await worker_reads.request_view(viewer, request_id)
        plan, plan_notice = versions.cut_for_display(doc["planContent"], doc["planChars"])
        session = await worker_reads.session_view(viewer, doc["threadId"])
        timeline = await worker_reads.timeline_page(viewer, doc["threadId"], recent_page)
        recent = timeline["page"]
    else:
        doc = await as_viewer("inbox:detail", {"approvalRequestId": request_id})
        plan, plan_notice = versions.cut_for_display(doc["planContent"])
        try:
            from app.worker_reads import timeline_row
        except ImportError:  # a tree from before the worker processes
            from app.pages.approval import timeline_row
        found = await as_viewer("sessions:get", {"threadId": doc["threadId"]})
        session = {"stateJson": pretty_json(found.get("state"))}
        args = {"threadId": doc["threadId"], "paginationOpts": recent_page}
        timeline = await as_viewer("timeline:list", args)
        recent = [timeline_row(entry) for entry in timeline["page"]]
    rows = await versions.version_rows(as_viewer, doc["artifactId"])
    if how == "process":
        comparison = await versions.version_diff(viewer, doc["artifactId"], 1, 2)
    else:
        from app.components.diff import compare

        old = await versions.whole_text(as_viewer, doc["artifactId"], 1)
        new = await versions.whole_text(as_viewer, doc["artifactId"], 2)
        comparison = await asyncio.to_thread(compare, old, new)
    page = {"plan": plan, "notice": plan_notice, "session": session, "recent": recent}
    json_dumps({**page, "versions": rows, "diff": comparison.lines})
    return f"approval page, {how}"


def poll_health(url: str, stop, answers) -> None:
    """In a process of its own (a monitor is outside the server): GET url every 20 ms until
    `stop` is set, then send the latencies (ms)."""
    latencies: list[float] = []
    with httpx.Client(timeout=60) as client:
        client.get(url)  # connected before the figures start
        while not stop.is_set():
            started = time.perf_counter()
            client.get(url)
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    answers.send(latencies)


def summary(latencies: list[float]) -> str:
    p95 = statistics.quantiles(latencies, n=20)[-1] if len(latencies) > 1 else latencies[0]
    return (
        f"{len(latencies)} answers, p50 {statistics.median(latencies):.1f} ms, "
        f"p95 {p95:.1f} ms, max {max(latencies):.1f} ms"
    )


async def loop_gaps(gaps: list[tuple[float, float]]) -> None:
    """How late the event loop wakes a 1 ms sleep, minus the 1 ms, with the CPU time this
    process used meanwhile: a late wake-up with the process busy is work in the process (on the
    loop, or a thread holding the GIL); with the process idle, the machine kept it off the CPU."""
    while True:
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(0.001)
        wall = (time.perf_counter() - started) * 1000 - 1
        gaps.append((wall, (time.process_time() - cpu) * 1000))


async def measure(health: str, opening) -> tuple[str, float, list]:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    answers, sender = context.Pipe(duplex=False)
    poller = context.Process(target=poll_health, args=(health, stop, sender))
    poller.start()
    await asyncio.sleep(1.0)  # the poller starts, then a few answers before the page opens
    gaps: list[tuple[float, float]] = []
    ticking = asyncio.create_task(loop_gaps(gaps))
    started = time.perf_counter()
    label = await opening
    opened_ms = (time.perf_counter() - started) * 1000
    await asyncio.sleep(0.3)
    ticking.cancel()
    wall, cpu = max(gaps, default=(0.0, 0.0))
    label += f" (event loop's longest stall {wall:.0f} ms, this process's CPU in it {cpu:.0f} ms)"
    stop.set()
    latencies = await asyncio.to_thread(answers.recv)
    await asyncio.to_thread(poller.join)
    return label, opened_ms, latencies


async def main(args: argparse.Namespace) -> None:
    from api import migrations
    from api.db import reset_engines
    from api.http import create_api
    from api.settings import get_settings

    directory = tempfile.mkdtemp(prefix="threadline-heavy-")
    url = f"sqlite:///{directory}/bench.db"
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    reset_engines()
    migrations.upgrade(url)
    viewer, artifact_id, request_id = await seed(args.lines, args.repeated)
    import api.http

    if hasattr(api.http, "freeze_startup_heap"):  # as app/app.py does at startup
        api.http.freeze_startup_heap()

    server = uvicorn.Server(
        uvicorn.Config(create_api(), host="127.0.0.1", port=args.port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    health = f"http://127.0.0.1:{args.port}/api/health"
    new_tree = (TREE / "api" / "processes.py").exists()
    if not (TREE / "app" / "components" / "versions.py").exists():
        ways = ["release"]
    else:
        ways = ["thread", "process"] if new_tree else ["thread"]
    print(f"tree: {TREE}; {args.lines:,} lines{' (repeated)' if args.repeated else ''}")
    print(f"    {sys.executable} {' '.join(sys.argv)}")
    if new_tree:
        # The worker processes start on first use (an import of about 0.6 s each, which on a
        # busy machine also takes CPU from the server): once per server, so not measured.
        from api import processes
        from app.components.versions import version_diff

        warm = [version_diff(viewer, artifact_id, 1, 2) for _ in range(processes.PROCESSES)]
        await asyncio.gather(*warm)
    every: dict[str, list[float]] = {way: [] for way in ways}
    for run in range(args.runs):
        for how in ways:
            if args.page == "approval":
                opening = open_approval(viewer, request_id, how)
            else:
                opening = open_page(viewer, artifact_id, how)
            label, opened_ms, latencies = await measure(health, opening)
            every[how] += latencies
            print(
                f"run {run + 1}: {label}: page opened in {opened_ms:,.0f} ms; /api/health "
                f"meanwhile: {summary(latencies)}; load average {os.getloadavg()[0]:.2f}"
            )
    for how, latencies in every.items():
        print(f"all runs, {how}: /api/health {summary(latencies)}")
    server.should_exit = True
    await serving
    if new_tree:
        processes.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeated", action="store_true", help="the repeated-lines attack")
    parser.add_argument("--port", type=int, default=3187)
    parser.add_argument(
        "--page", choices=["artifact", "approval"], default="artifact", help="the page opened"
    )
    asyncio.run(main(parser.parse_args()))
