"""`threadline desktop [--url URL]`: the console in a native window, with desktop notifications.

The window is pywebview on Qt WebEngine (PyQt6-WebEngine from PyPI): a real web engine with a
persistent profile, so sign-in and the session cookie (HttpOnly or not) work as in a browser.

Without --url the command starts the embedded SQLite server the way `make run` does (migrate,
first-run, `reflex run --env prod --single-port`) on a free loopback port, in a process group of
its own, opens the window once /api/health answers, and ends the whole group when the window
closes or the command gets SIGTERM/SIGINT.

Notifications: a watcher thread asks the server for `inbox:pending` as the person signed in in the
window. It reads the session token from the window's own cookie store at each poll (in memory,
never written anywhere by Threadline), so signing out in the window stops it. A request that
appears while the window is open is announced through the freedesktop notification service
(desktop-notifier over D-Bus); clicking the notification opens /approvals/<id> in the window.

Window size and position are kept in $XDG_CONFIG_HOME/threadline/desktop.json; the web profile
(cookies, local storage) in $XDG_DATA_HOME/threadline/desktop-profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

log = logging.getLogger(__name__)

TITLE = "Threadline"
SESSION_COOKIE = "threadline_session"  # the console's session cookie (app/state.py)
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_GEOMETRY = {"width": 1280, "height": 860}
MIN_WIDTH, MIN_HEIGHT = 480, 360
POLL_SECONDS = 5.0
START_TIMEOUT_SECONDS = 600.0  # the first start builds the console's frontend
MAX_SINGLE_NOTIFICATIONS = 3  # more new requests at once: one summary notification
ENGINE_HELP = (
    "the desktop window needs Qt WebEngine: pip install 'threadline[desktop]' "
    "(pywebview, PyQt6-WebEngine), and on Debian/Ubuntu: apt-get install libnss3 libxkbcommon0 "
    "libxkbcommon-x11-0 libgl1 libegl1 libxcomposite1 libxdamage1 libxrandr2 libxtst6 "
    "libasound2 libxshmfence1 libxcb-cursor0 (or run `make desktop`)"
)


class DesktopError(Exception):
    """A problem the person can fix; printed as one clear line, never as a traceback."""


# --- preconditions ----------------------------------------------------------------------------


def check_display(environ: dict[str, str] | None = None) -> None:
    environ = os.environ if environ is None else environ
    if sys.platform.startswith("linux") and not (
        environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY")
    ):
        raise DesktopError(
            "no display: `threadline desktop` opens a window, but neither DISPLAY nor "
            "WAYLAND_DISPLAY is set. Run it inside a desktop session, or on a virtual screen "
            "(apt-get install xvfb; xvfb-run .venv/bin/threadline desktop), or open the console "
            "in a browser with `make run`."
        )


def load_engine() -> Any:
    """pywebview with its Qt backend, checked to have a usable web engine."""
    try:
        import webview
        from qtpy.QtWebEngineWidgets import QWebEngineView  # noqa: F401
    except Exception as exc:  # ImportError, or a missing shared library (OSError)
        raise DesktopError(f"no usable web engine ({exc}): {ENGINE_HELP}") from None
    return webview


# --- remembered geometry ----------------------------------------------------------------------


def config_file(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "threadline" / "desktop.json"


def profile_dir(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "threadline" / "desktop-profile"


def load_geometry(path: Path) -> dict[str, int]:
    """The saved size and position; the defaults when the file is missing or not sensible."""
    geometry = dict(DEFAULT_GEOMETRY)
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return geometry
    if not isinstance(saved, dict):
        return geometry
    values = {k: saved.get(k) for k in ("width", "height", "x", "y")}
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values.values()):
        return geometry
    if values["width"] < MIN_WIDTH or values["height"] < MIN_HEIGHT:
        return geometry
    if not (-10_000 < values["x"] < 20_000 and -10_000 < values["y"] < 20_000):
        return geometry
    return values


def save_geometry(path: Path, width: int, height: int, x: int, y: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"width": width, "height": height, "x": x, "y": y}))
    temporary.replace(path)  # never a half-written file


# --- the embedded server ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class EmbeddedServer:
    """The console + API as `make run` serves it, in its own process group on a loopback port."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://localhost:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.setup_path: str | None = None
        self._lock = threading.Lock()

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = os.pathsep.join(
            [str(ROOT / ".tools/node_modules/.bin"), bin_dir, env["PATH"]]
        )
        env["PORT"] = str(self.port)
        env.setdefault("PYTHONPATH", str(ROOT))
        # Reflex uses bun from the npm registry and makes no outbound checks (as the Makefile).
        env.setdefault("REFLEX_USE_SYSTEM_BUN", "1")
        env.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")
        env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
        # No prerendered pages: a window has no search engines to serve, and prerendering is the
        # build step that times out on a busy machine (React Router's 10 s limit). Every route
        # then serves the single-page shell, which renders in the window.
        env.setdefault("REFLEX_SSR", "false")
        return env

    def _cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            cwd=ROOT,
            env=self._environment(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise DesktopError(f"`threadline {' '.join(args)}` failed: {done.stderr.strip()}")
        return done.stdout

    def start(self, timeout: float = START_TIMEOUT_SECONDS) -> None:
        if not (ROOT / "rxconfig.py").exists():
            raise DesktopError(
                f"the embedded server needs the Threadline project folder ({ROOT} has no "
                "rxconfig.py); start Threadline elsewhere and use --url"
            )
        self._cli("migrate")
        for line in self._cli("first-run").splitlines():
            if "/setup?token=" in line:  # no admin yet: the window opens the setup page
                self.setup_path = "/setup?" + line.split("/setup?", 1)[1].strip()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        port = str(self.port)
        command = [
            *_reflex_command(),
            *("run", "--env", "prod", "--single-port", "--backend-host", "127.0.0.1"),
            *("--frontend-port", port, "--backend-port", port),
        ]
        with self._lock, open(self.log_path, "wb") as output:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as one
                preexec_fn=_end_with_parent if sys.platform.startswith("linux") else None,
            )
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        health = f"http://127.0.0.1:{self.port}/api/health"
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise DesktopError(
                    f"the Threadline server stopped while starting (exit code {code}); "
                    f"last lines of {self.log_path}:\n{_log_tail(self.log_path)}"
                )
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    # The single port serves the API first; wait for the console page too.
                    if httpx.get(f"http://127.0.0.1:{self.port}/", timeout=5).status_code == 200:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise DesktopError(f"the Threadline server was not healthy after {timeout:.0f} s")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the whole process group, SIGKILL for what is left after `grace`."""
        with self._lock:
            process = self.process
            if process is None:
                return
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
            # Workers may outlive the leader: the group goes, whatever is left of it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)


def _end_with_parent() -> None:
    """In the server's child before exec: SIGTERM it should this process die without cleaning up
    (SIGKILL, a lost X connection), so no server outlives its window."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _reflex_command() -> list[str]:
    script = Path(sys.executable).parent / "reflex"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "reflex"]


# --- notifications ----------------------------------------------------------------------------


def session_token(cookies: list[Any], base_url: str) -> str | None:
    """The console session token among the window's cookies (http.cookies.SimpleCookie objects,
    as pywebview returns them), for the console's own host only."""
    host = urlsplit(base_url).hostname or ""
    for jar in cookies:
        morsel = jar.get(SESSION_COOKIE) if hasattr(jar, "get") else None
        if morsel is None or not morsel.value:
            continue
        domain = (morsel["domain"] or "").lstrip(".")
        if domain and domain != host:
            continue
        return morsel.value
    return None


def notification_text(title: str, limit: int = 120) -> str:
    """A thread title (agent text: untrusted) as a notification body: one line, cut, and with
    markup escaped, since notification servers may read the body as markup."""
    flat = " ".join((title or "").split()) or "(untitled thread)"
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return html.escape(flat, quote=False)


@dataclass
class NewRequests:
    """Pending requests not seen before that arrived while the window was open."""

    fresh: list[dict[str, Any]]


class PendingTracker:
    """Which pending requests are news. A request counts when it is pending, was not seen before
    and was created after the window opened (requests already waiting are in the inbox)."""

    def __init__(self, opened_ms: float) -> None:
        self.opened_ms = opened_ms
        self.seen: set[str] = set()

    def update(self, requests: list[dict[str, Any]]) -> NewRequests:
        fresh = [
            r
            for r in requests
            if r["_id"] not in self.seen and r.get("_creationTime", 0) >= self.opened_ms
        ]
        self.seen.update(r["_id"] for r in requests)
        return NewRequests(fresh)


class Watcher:
    """Polls inbox:pending as the window's signed-in person and notifies of new requests."""

    def __init__(self, window: Any, base_url: str, interval: float = POLL_SECONDS) -> None:
        self.window = window
        self.base_url = base_url.rstrip("/")
        self.interval = interval
        self.tracker = PendingTracker(opened_ms=time.time() * 1000 - 2000)
        self.stopped = threading.Event()
        self._warned = False

    def run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        from desktop_notifier import DesktopNotifier

        notifier = DesktopNotifier(app_name=TITLE)
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as http:
            while not self.stopped.is_set():
                try:
                    await self._poll(http, notifier)
                except Exception as exc:  # the window stays usable without notifications
                    if not self._warned:
                        print(f"threadline desktop: notifications paused: {exc}", file=sys.stderr)
                        self._warned = True
                await asyncio.sleep(self.interval)

    async def _poll(self, http: httpx.AsyncClient, notifier: Any) -> None:
        token = session_token(self.window.get_cookies() or [], self.base_url)
        if token is None:
            return
        response = await http.post(
            "/api/query",
            json={"path": "inbox:pending", "args": {"limit": 200}},
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code != 200:
            return  # signed out or not staff: nothing to announce
        body = response.json()
        if body.get("status") != "success":
            return
        news = self.tracker.update(body["value"]["requests"])
        if len(news.fresh) > MAX_SINGLE_NOTIFICATIONS:
            await notifier.send(
                title=f"{len(news.fresh)} plans wait for review",
                message="Open the approvals inbox",
                on_clicked=lambda: self.open_path("/approvals"),
            )
            return
        for request in news.fresh:
            request_id = request["_id"]
            await notifier.send(
                title="A plan waits for review",
                message=notification_text(request.get("threadTitle", "")),
                on_clicked=lambda rid=request_id: self.open_path(
                    f"/approvals/{quote(rid, safe='')}"
                ),
            )
        self._warned = False

    def open_path(self, path: str) -> None:
        self.window.load_url(self.base_url + path)
        with contextlib.suppress(Exception):
            self.window.restore()
            self.window.show()


# --- the test probe ---------------------------------------------------------------------------


def _probe(window: Any, path: Path, stopped: threading.Event) -> None:
    """THREADLINE_DESKTOP_PROBE=file: appends the window's URL at each change, for the tests;
    without its query (a setup link's token stays out of the file) and no page content."""
    last = None
    while not stopped.is_set():
        with contextlib.suppress(Exception):
            url = (window.get_current_url() or "").split("?", 1)[0]
            if url and url != last:
                with open(path, "a") as out:
                    out.write(json.dumps({"url": url}) + "\n")
                last = url
        stopped.wait(0.3)


# --- the command ------------------------------------------------------------------------------


class _Signals:
    """SIGTERM/SIGINT while Qt's loop runs: Python handlers wait for the main thread, so the C
    handler's wakeup byte wakes a thread that stops the server and closes the window."""

    def __init__(self, on_signal: Any) -> None:
        self.reader, writer = socket.socketpair()
        writer.setblocking(False)
        self._writer = writer
        self.received: int | None = None
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: None)
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._on_signal = on_signal
        threading.Thread(target=self._wait, name="desktop-signals", daemon=True).start()

    def _wait(self) -> None:
        data = self.reader.recv(1)
        if data:
            self.received = data[0]
            self._on_signal()


def _tidy_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DesktopError(
            f"--url must be an http(s) address such as http://localhost:3000, not {url!r}"
        )
    return url.rstrip("/")


def run(url: str | None = None) -> int:
    base_url = _tidy_url(url) if url else None
    check_display()
    webview = load_engine()
    if os.geteuid() == 0:  # Chromium refuses to run as root with its sandbox (CI, containers)
        os.environ.setdefault("QTWEBENGINE_DISABLE_SANDBOX", "1")
    # No background calls to Google services from the embedded Chromium.
    os.environ.setdefault(
        "QTWEBENGINE_CHROMIUM_FLAGS",
        "--disable-background-networking --disable-component-update --disable-sync",
    )

    server: EmbeddedServer | None = None
    stopped = threading.Event()
    window_box: list[Any] = []

    def shut_down() -> None:
        stopped.set()
        if server is not None:
            server.stop()
        for window in window_box:
            with contextlib.suppress(Exception):
                window.destroy()

    signals = _Signals(shut_down)
    try:
        start_path = ""
        if base_url is None:
            data = profile_dir().parent
            server = EmbeddedServer(log_path=data / "desktop-server.log")
            print(
                f"Starting Threadline on {server.url} (the first start builds the console, about "
                f"a minute; log: {server.log_path})",
                flush=True,
            )
            try:
                server.start()
            except DesktopError:
                if stopped.is_set():  # stopped by a signal while starting: no error to show
                    return 128 + (signals.received or signal.SIGTERM)
                raise
            base_url = server.url
            start_path = server.setup_path or ""
        else:
            _check_reachable(base_url)
        if stopped.is_set():
            return 128 + (signals.received or signal.SIGTERM)
        geometry_path = config_file()
        geometry = load_geometry(geometry_path)
        window = webview.create_window(
            TITLE,
            base_url + (start_path or "/"),
            width=geometry["width"],
            height=geometry["height"],
            x=geometry.get("x"),
            y=geometry.get("y"),
            min_size=(MIN_WIDTH, MIN_HEIGHT),
        )
        window_box.append(window)

        def remember() -> None:
            with contextlib.suppress(Exception):
                save_geometry(geometry_path, window.width, window.height, window.x, window.y)

        window.events.closing += remember
        watcher = Watcher(window, base_url)

        def background(window: Any) -> None:
            threading.Thread(target=watcher.run, name="desktop-watcher", daemon=True).start()
            probe = os.environ.get("THREADLINE_DESKTOP_PROBE")
            if probe:
                threading.Thread(
                    target=_probe, args=(window, Path(probe), stopped), daemon=True
                ).start()

        profile = profile_dir()
        profile.mkdir(parents=True, exist_ok=True)
        webview.start(background, window, gui="qt", private_mode=False, storage_path=str(profile))
        watcher.stopped.set()
    finally:
        stopped.set()
        if server is not None:
            server.stop()
    return 0 if signals.received is None else 128 + signals.received


def _check_reachable(base_url: str) -> None:
    try:
        response = httpx.get(base_url + "/api/health", timeout=10)
    except httpx.HTTPError as exc:
        raise DesktopError(f"no Threadline answers at {base_url} ({exc})") from None
    if response.status_code != 200:
        raise DesktopError(
            f"{base_url}/api/health answered {response.status_code}: is that a Threadline?"
        )
