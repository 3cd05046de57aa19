"""Starting Threadline and the yardstick as real servers for the benchmarks."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
REFLEX_ENV = {
    "REFLEX_USE_SYSTEM_BUN": "1",
    "REFLEX_CHECK_LATEST_VERSION": "false",
    "REFLEX_TELEMETRY_ENABLED": "false",
    "NPM_CONFIG_REGISTRY": os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/"),
    "PATH": f"{ROOT / '.tools/node_modules/.bin'}:{Path(PYTHON).parent}:{os.environ['PATH']}",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


LINKED = ("rxconfig.py", "app", "api", "models", "assets", "alembic", "alembic.ini", "reflex.lock")


@contextlib.contextmanager
def scratch_project() -> Iterator[Path]:
    """A folder linking to the project's code, where Reflex may build its own .web/ without
    touching the project's (which a test harness may be using)."""
    with tempfile.TemporaryDirectory(prefix="threadline-bench-") as scratch:
        for name in LINKED:
            if (ROOT / name).exists():
                os.symlink(ROOT / name, Path(scratch) / name)
        yield Path(scratch)


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
            [
                PYTHON,
                "-m",
                "reflex",
                "run",
                "--env",
                "prod",
                "--backend-only",
                "--backend-port",
                str(port),
                "--loglevel",
                "warning",
            ],
            cwd=scratch,
            env={**os.environ, **REFLEX_ENV, **env, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_healthy(f"http://127.0.0.1:{port}/api/health", process)
            yield f"http://127.0.0.1:{port}", process
        finally:
            stop(process)


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
        stop(process)
