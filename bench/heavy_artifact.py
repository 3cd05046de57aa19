"""/api/health while a viewer opens an 8 MiB, 100,000-line artifact with two versions.

    .venv/bin/python bench/heavy_artifact.py [--lines 100000] [--runs 3] [--repeated]
    THREADLINE_TREE=/path/to/an/older/checkout .venv/bin/python bench/heavy_artifact.py  # before

One process, as in production: the API (uvicorn, serving api.http) and the viewer's page work run
on the same event loop. The page work is what the artifact page does when it opens: with this
tree, app.components.versions.open_artifact (sizes, a cut text, a bounded diff off the loop);
with a tree from before issue 9 (no such module), the first release's sequence (artifacts:get,
artifacts:versions, difflib over both whole texts). A separate thread asks /api/health every 20 ms
meanwhile and records how long each answer took. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
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
    from api.signin import sign_in

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
    return viewer, artifact_id


async def open_page(viewer, artifact_id: str) -> str:
    """What the artifact page does on opening, as this tree does it."""
    from api.calls import call

    async def as_viewer(path, args):
        return await call(path, args, viewer)

    if not (TREE / "app" / "components" / "versions.py").exists():
        # A tree from before issue 9: the first release's artifact page.
        from app.components.diff import diff_lines

        await as_viewer("artifacts:get", {"artifactId": artifact_id})
        versions = await as_viewer("artifacts:versions", {"artifactId": artifact_id})
        diff_lines(versions[-2]["content"], versions[-1]["content"])
        return "first release (whole versions, difflib on the loop)"
    from app.components.versions import open_artifact

    await open_artifact(as_viewer, artifact_id)
    return "open_artifact (sizes, cut text, bounded diff off the loop)"


def poll_health(url: str, stop: threading.Event, latencies: list[float]) -> None:
    with httpx.Client(timeout=60) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(url)
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)


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
    viewer, artifact_id = await seed(args.lines, args.repeated)
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
    print(f"tree: {TREE}")
    for run in range(args.runs):
        latencies: list[float] = []
        stop = threading.Event()
        poller = threading.Thread(target=poll_health, args=(health, stop, latencies))
        poller.start()
        await asyncio.sleep(0.3)  # a few answers before the page opens
        started = time.perf_counter()
        how = await open_page(viewer, artifact_id)
        opened_ms = (time.perf_counter() - started) * 1000
        await asyncio.sleep(0.3)
        stop.set()
        await asyncio.to_thread(poller.join)
        print(
            f"run {run + 1}: {how}: page opened in {opened_ms:,.0f} ms; /api/health meanwhile: "
            f"{len(latencies)} answers, median {statistics.median(latencies):.1f} ms, "
            f"max {max(latencies):.1f} ms"
        )
    server.should_exit = True
    await serving


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeated", action="store_true", help="the repeated-lines attack")
    parser.add_argument("--port", type=int, default=3187)
    asyncio.run(main(parser.parse_args()))
