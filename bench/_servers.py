"""Starting Threadline and the yardstick as real servers for the benchmarks, with the helpers the
tests start theirs with (tests/server_process.py: ports, scratch folder, health, stopping)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.server_process import (
    ROOT,
    free_port,
    link_project,
    reflex_command,
    reflex_env,
    stop_process,
    wait_healthy,
)

PYTHON = sys.executable


@contextlib.contextmanager
def scratch_project() -> Iterator[Path]:
    """A folder linking to the project's code, where Reflex may build its own .web/ without
    touching the project's (which a test harness may be using)."""
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as scratch:
        yield link_project(Path(scratch))


@contextlib.contextmanager
def threadline_server(env: dict[str, str], port: int | None = None) -> Iterator[str]:
    """Threadline's backend in production mode (`reflex run --env prod --backend-only`), run from
    a scratch folder that links to the project, so it never touches the project's own .web/."""
    with threadline_server_process(env, port) as (url, _process):
        yield url


@contextlib.contextmanager
def threadline_server_process(
    env: dict[str, str], port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """threadline_server, also giving the server's process (to measure its memory)."""
    port = port or free_port()
    with scratch_project() as scratch:
        process = subprocess.Popen(
            reflex_command(port, quiet=True),
            cwd=scratch,
            env={**os.environ, **reflex_env(), **env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_healthy(f"http://127.0.0.1:{port}", process, 120, interval=0.2)
            yield f"http://127.0.0.1:{port}", process
        finally:
            stop_process(process)


@contextlib.contextmanager
def bare_server(workers: int = 1) -> Iterator[str]:
    with bare_server_process(workers) as (url, _process):
        yield url


@contextlib.contextmanager
def bare_server_process(workers: int = 1) -> Iterator[tuple[str, subprocess.Popen]]:
    """bare_server, also giving the server's process (to measure its CPU)."""
    port = free_port()
    process = subprocess.Popen(
        [
            PYTHON,
            str(ROOT / "bench/serve.py"),
            "bench.bare_app:create_app",
            str(port),
            str(workers),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.post(f"http://127.0.0.1:{port}/api/mutation", content=b"{}", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("bare server did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", process
    finally:
        stop_process(process)
