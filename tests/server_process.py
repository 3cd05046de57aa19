"""Starting Threadline as real server processes, for the tests and the benchmarks alike (bench/
imports this too): a free port, the environment `reflex run` needs, a scratch folder linking to
the project (so a server's frontend build never touches the project's own .web/), waiting until
/api/health answers, and stopping the whole process group. Also the browser the tests drive.

    ServerProcess(database_url, workers=2).start()   the API alone (granian, as in production),
                                                     with the ingest fast lane in front, as
                                                     `make run` serves it: a process a test can
                                                     kill, or several workers
    link_project(scratch); subprocess.Popen(reflex_command(port), cwd=scratch,
        env={**os.environ, **reflex_env(), ...}); wait_healthy(url, process); stop_process(process)
                                                     the whole console (tests/attack_support.py,
                                                     tests/test_scale_out_console.py,
                                                     bench/_servers.py)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
# What a scratch folder links to: enough for `reflex run` and the migrations.
LINKED = ("rxconfig.py", "app", "api", "models", "assets", "alembic", "alembic.ini", "reflex.lock")
CHROMIUM = "/usr/bin/chromium"  # Debian's (make e2e-deps)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAUNCHER = """
import sys
from granian.constants import Interfaces
from granian.server import Server
Server(target="api.ingest:create_served_api", factory=True, address="127.0.0.1",
       port=int(sys.argv[1]), interface=Interfaces.ASGI, log_level="warning",
       workers=int(sys.argv[2])).serve()
"""


def launch_chromium(playwright: Any) -> Any:
    """Debian's chromium, headless, through a (sync or async) Playwright: its launch call, to be
    called (or awaited)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reflex_env() -> dict[str, str]:
    """What `reflex run` needs beyond os.environ: the project's own node tools and Python first
    on PATH, the system bun, no update checks or telemetry, an npm registry."""
    return {
        "PATH": os.pathsep.join(
            [
                str(ROOT / ".tools/node_modules/.bin"),
                str(Path(sys.executable).parent),
                os.environ["PATH"],
            ]
        ),
        "REFLEX_USE_SYSTEM_BUN": "1",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "NPM_CONFIG_REGISTRY": os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org/"),
    }


def link_project(scratch: Path) -> Path:
    """Links the project's code into `scratch` (which must exist), where Reflex may build its
    own .web/ without touching the project's (which a test harness may be using)."""
    for name in LINKED:
        if (ROOT / name).exists():
            os.symlink(ROOT / name, scratch / name)
    return scratch


def reflex_command(port: int, *, single_port: bool = False, quiet: bool = False) -> list[str]:
    """`reflex run --env prod` on `port`: the backend only, or (`single_port`) the built frontend
    and the backend on the one port. `quiet`: warnings only in its output."""
    command = [sys.executable, "-m", "reflex", "run", "--env", "prod"]
    if single_port:
        command += ["--single-port", "--frontend-port", str(port), "--backend-port", str(port)]
    else:
        command += ["--backend-only", "--backend-port", str(port)]
    return command + (["--loglevel", "warning"] if quiet else [])


def wait_healthy(
    url: str,
    process: subprocess.Popen,
    timeout: float = 60,
    *,
    log: Path | None = None,
    interval: float = 0.1,
) -> None:
    """Returns once `url`/api/health answers 200. RuntimeError if the process exits first (with
    the end of `log`, if given) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text()[-3000:] if log is not None else ""
            raise RuntimeError(f"server exited with {process.returncode}\n{tail}".rstrip())
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    raise RuntimeError(f"{url} did not become healthy within {timeout} s")


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM to the process group (started with start_new_session=True), SIGKILL if it has not
    ended within `timeout` seconds."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


class ServerProcess:
    def __init__(self, database_url: str, workers: int = 1, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PYTHONPATH": str(ROOT),
            "BCRYPT_ROUNDS": "4",
            **env,
        }
        self.workers = workers
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> ServerProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(self.port), str(self.workers)],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_healthy(self.url, self.process, timeout)
        except RuntimeError:
            self.kill()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown handlers, no flushing."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
