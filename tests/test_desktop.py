"""`threadline desktop`: the console in a native window, under Xvfb.

One `threadline desktop` (embedded server, one frontend build) serves the module: the window
appears and shows the sign-in page (screenshots in $THREADLINE_SCREENSHOTS), a person signs in by
typing into the window (xdotool), a new request is announced through a test notification service
on a private D-Bus session bus and clicking it opens the request, and closing the window stops
the server it started. The window's URL is read from THREADLINE_DESKTOP_PROBE (URLs only).

Needs Debian's xvfb, xdotool, imagemagick and dbus (`make desktop-deps`, which `make test` runs).
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import psutil
import pytest

from api import cli, desktop

REPO = Path(__file__).resolve().parent.parent
TOOLS = ("Xvfb", "xdotool", "import", "dbus-daemon")
REVIEWER = ("rita@example.com", "Rita Reviewer", "reviewer-password-1")
SCREEN = (1440, 960)  # room for the default 1280 x 860 window


# --- without a display: errors, geometry, helpers ---------------------------------------------


def test_no_display_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert cli.main(["desktop"]) == 2
    err = capsys.readouterr().err
    assert "no display" in err and "DISPLAY" in err and "xvfb" in err
    assert "Traceback" not in err


def test_missing_web_engine_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":99")
    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name.split(".")[0] in ("webview", "qtpy", "PyQt6"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)
    assert cli.main(["desktop", "--url", "http://localhost:3000"]) == 2
    err = capsys.readouterr().err
    assert "no usable web engine" in err
    assert "pip install 'threadline[desktop]'" in err and "libnss3" in err
    assert "Traceback" not in err


def test_bad_url_is_a_clear_error(capsys):
    assert cli.main(["desktop", "--url", "localhost:3000"]) == 2
    assert "--url must be an http(s) address" in capsys.readouterr().err


def test_unreachable_url_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setenv("DISPLAY", ":99")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setattr(desktop, "load_engine", lambda: object())
    assert cli.main(["desktop", "--url", f"http://127.0.0.1:{port}"]) == 2
    assert f"no Threadline answers at http://127.0.0.1:{port}" in capsys.readouterr().err


def test_geometry_is_saved_and_bad_files_fall_back(tmp_path):
    path = tmp_path / "cfg" / "threadline" / "desktop.json"
    assert desktop.load_geometry(path) == desktop.DEFAULT_GEOMETRY
    desktop.save_geometry(path, 900, 700, 40, 30)
    assert desktop.load_geometry(path) == {"width": 900, "height": 700, "x": 40, "y": 30}
    for bad in ("{", "[]", '{"width": 10, "height": 10, "x": 0, "y": 0}', '{"width": "9"}'):
        path.write_text(bad)
        assert desktop.load_geometry(path) == desktop.DEFAULT_GEOMETRY
    assert desktop.config_file({"XDG_CONFIG_HOME": "/x"}) == Path("/x/threadline/desktop.json")


class FakeWindow:
    class Events:
        def __init__(self) -> None:
            self.closing: list = []

    class Handlers(list):
        def __iadd__(self, handler):
            self.append(handler)
            return self

    def __init__(self, **options) -> None:
        self.options = options
        self.events = self.Events()
        self.events.closing = self.Handlers()
        self.width, self.height, self.x, self.y = 1000, 640, 12, 34


class FakeWebview:
    def __init__(self) -> None:
        self.windows: list[FakeWindow] = []
        self.started: dict = {}

    def create_window(self, title, url, **options):
        window = FakeWindow(title=title, url=url, **options)
        self.windows.append(window)
        return window

    def start(self, func, window, **options):
        self.started = options
        for handler in window.events.closing:  # the person closes the window at once
            handler()


def test_window_remembers_size_and_position(monkeypatch, tmp_path):
    """The saved geometry opens the window; closing it saves the new one; the web profile is
    persistent (cookies survive, as in a browser)."""
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    desktop.save_geometry(desktop.config_file(), 900, 700, 40, 30)
    fake = FakeWebview()
    monkeypatch.setattr(desktop, "load_engine", lambda: fake)
    monkeypatch.setattr(desktop, "_check_reachable", lambda url: None)
    monkeypatch.setattr(desktop, "Watcher", lambda *a, **k: type("W", (), {"stopped": _Flag()}))
    assert desktop.run("http://console.example:3000/") == 0
    (window,) = fake.windows
    assert window.options["title"] == "Threadline"
    assert window.options["url"] == "http://console.example:3000/"
    assert (window.options["width"], window.options["height"]) == (900, 700)
    assert (window.options["x"], window.options["y"]) == (40, 30)
    assert fake.started["private_mode"] is False and fake.started["gui"] == "qt"
    assert fake.started["storage_path"] == str(tmp_path / "data/threadline/desktop-profile")
    saved = json.loads(desktop.config_file().read_text())
    assert saved == {"width": 1000, "height": 640, "x": 12, "y": 34}


class _Flag:
    def set(self) -> None:
        pass


def test_session_token_is_read_for_the_console_host_only():
    ours, other, plain = SimpleCookie(), SimpleCookie(), SimpleCookie()
    ours["threadline_session"] = "tls_ours"
    ours["threadline_session"]["domain"] = "localhost"
    ours["threadline_session"]["httponly"] = True
    other["threadline_session"] = "tls_other"
    other["threadline_session"]["domain"] = "elsewhere.example"
    plain["theme"] = "dark"
    assert desktop.session_token([plain, other, ours], "http://localhost:3000") == "tls_ours"
    assert desktop.session_token([plain, other], "http://localhost:3000") is None


def test_session_cookie_name_is_the_consoles():
    from app.state import SESSION_COOKIE

    assert desktop.SESSION_COOKIE == SESSION_COOKIE


def test_notification_text_is_one_escaped_line():
    text = desktop.notification_text('<b onclick="x">Fix</b> &\n  the   build' + "x" * 200)
    assert "<" not in text and "&lt;b" in text and "&amp;" in text and "\n" not in text
    assert len(text) <= 140 and text.endswith("…")  # cut at 120, then escaped
    assert desktop.notification_text("") == "(untitled thread)"


def test_only_requests_that_arrive_while_open_are_news():
    tracker = desktop.PendingTracker(opened_ms=1000)
    first = tracker.update(
        [{"_id": "old", "_creationTime": 500}, {"_id": "a", "_creationTime": 1500}]
    )
    assert [r["_id"] for r in first.fresh] == ["a"]
    again = tracker.update(
        [{"_id": "a", "_creationTime": 1500}, {"_id": "b", "_creationTime": 2000}]
    )
    assert [r["_id"] for r in again.fresh] == ["b"]
    assert tracker.update([{"_id": "b", "_creationTime": 2000}]).fresh == []


# --- the real window under Xvfb ---------------------------------------------------------------


def _require_desktop_tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"desktop tests need {', '.join(missing)}: apt-get install xvfb xdotool imagemagick "
            "dbus (make desktop-deps)"
        )
    try:
        desktop.load_engine()
    except desktop.DesktopError as exc:
        pytest.skip(str(exc))
    if shutil.which("bun") is None and not (REPO / ".tools/node_modules/.bin/bun").exists():
        pytest.skip("desktop tests need bun for the frontend build (make install)")


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


class Desktop:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.probe = root / "probe.jsonl"
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{root / 'threadline.db'}",
            "XDG_CONFIG_HOME": str(root / "config"),
            "XDG_DATA_HOME": str(root / "data"),
            "THREADLINE_DESKTOP_PROBE": str(self.probe),
            "BCRYPT_ROUNDS": "4",
            "PYTHONPATH": str(REPO),
        }
        self.env.pop("REDIS_URL", None)
        self.process: subprocess.Popen | None = None
        self.base_url = ""
        self.api_key = ""

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def urls(self) -> list[str]:
        if not self.probe.exists():
            return []
        return [json.loads(line)["url"] for line in self.probe.read_text().splitlines()]

    def path(self) -> str:
        urls = self.urls()
        return urls[-1].removeprefix(self.base_url) if urls else ""

    def window(self) -> str:
        found = subprocess.run(
            ["xdotool", "search", "--name", "^Threadline$"],
            env=self.env,
            capture_output=True,
            text=True,
        )
        return found.stdout.split()[0] if found.returncode == 0 and found.stdout else ""

    def xdotool(self, *args: str) -> None:
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=30)

    def screenshot(self, folder: Path, name: str) -> Path:
        path = folder / name
        subprocess.run(["import", "-window", "root", str(path)], env=self.env, check=True)
        return path

    def mutation(self, path: str, args: dict) -> object:
        body = httpx.post(
            f"{self.base_url}/api/mutation",
            json={"path": path, "args": args},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=30,
        ).json()
        assert body["status"] == "success", body
        return body["value"]


def _start_xvfb(env: dict) -> subprocess.Popen:
    read, write = os.pipe()
    process = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write),
            "-screen",
            "0",
            f"{SCREEN[0]}x{SCREEN[1]}x24",
            "-nolisten",
            "tcp",
        ],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as numbers:
        number = numbers.readline().strip()
    env["DISPLAY"] = f":{number}"
    return process


def _start_session_bus(env: dict, root: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            "dbus-daemon",
            "--session",
            "--nofork",
            "--print-address=1",
            f"--address=unix:path={root / 'bus'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    env["DBUS_SESSION_BUS_ADDRESS"] = process.stdout.readline().strip()
    return process


@pytest.fixture(scope="module")
def screenshots() -> Path:
    folder = Path(os.environ.get("THREADLINE_SCREENSHOTS", REPO / "artifacts" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _launch(app: Desktop, output: Path) -> bool:
    """Starts `threadline desktop`; True once its window is up, False if it exited first."""
    with open(output, "wb") as out:
        app.process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "desktop"],
            cwd=REPO,
            env=app.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _wait(
        lambda: "Starting Threadline on" in output.read_text() or app.process.poll() is not None,
        60,
        "the desktop command to start its server",
    )
    assert "Starting Threadline on" in output.read_text(), output.read_text()
    app.base_url = output.read_text().split("Starting Threadline on ")[1].split()[0]
    _wait(lambda: app.window() or app.process.poll() is not None, 400, "the window")
    return app.process.poll() is None


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """`threadline desktop` on a virtual screen, a session bus and a test notification service;
    people exist already (no setup page). Yields (Desktop, NotificationDaemon)."""
    _require_desktop_tools()
    from tests.notification_daemon import NotificationDaemon

    root = tmp_path_factory.mktemp("desktop")
    app = Desktop(root)
    xvfb = _start_xvfb(app.env)
    bus = _start_session_bus(app.env, root)
    try:
        app.cli("migrate")
        email, name, password = REVIEWER
        app.cli(
            "create-user",
            "--email",
            "ada@example.com",
            "--name",
            "Ada",
            "--role",
            "admin",
            "--password",
            "admin-password-1",
        )
        app.cli(
            "create-user",
            "--email",
            email,
            "--name",
            name,
            "--role",
            "reviewer",
            "--password",
            password,
        )
        app.api_key = app.cli("create-api-key", "--name", "desktop tests").splitlines()[-1]
        with NotificationDaemon(app.env["DBUS_SESSION_BUS_ADDRESS"]) as daemon:
            # Under load the frontend build can hit React Router's prerender limit: once more.
            for attempt in (1, 2):
                output = root / f"desktop-{attempt}.out"
                if _launch(app, output) or attempt == 2:
                    break
            assert app.process.poll() is None, output.read_text()[-3000:]
            yield app, daemon
    finally:
        if app.process is not None and app.process.poll() is None:
            os.killpg(app.process.pid, signal.SIGKILL)
            app.process.wait(30)
        bus.terminate()
        xvfb.terminate()
        bus.wait(10)
        xvfb.wait(10)


@pytest.mark.desktop
def test_window_shows_the_signin_page(running, screenshots):
    app, _ = running
    assert app.window()
    _wait(lambda: app.path().startswith("/signin"), 60, "the sign-in page in the window")
    time.sleep(2)  # the page paints after the route settles
    shot = app.screenshot(screenshots, "desktop-window-signin.png")
    colours = subprocess.run(
        ["identify", "-format", "%k", str(shot)], capture_output=True, text=True, check=True
    ).stdout
    assert int(colours) > 20  # a painted page, not an empty screen


@pytest.mark.desktop
def test_sign_in_through_the_window(running, screenshots):
    app, _ = running
    email, _name, password = REVIEWER
    window = app.window()
    # Run alone (-k), nothing has waited for the page yet: keys typed before it paints are lost.
    _wait(lambda: app.path().startswith("/signin"), 60, "the sign-in page in the window")
    time.sleep(2)
    app.xdotool("windowfocus", "--sync", window)
    # The email field has focus on the sign-in page: type as a person would.
    app.xdotool("type", "--delay", "30", email)
    app.xdotool("key", "Tab")
    app.xdotool("type", "--delay", "30", password)
    app.xdotool("key", "Return")
    _wait(lambda: app.path().startswith("/approvals"), 60, "the inbox after signing in")
    time.sleep(2)
    app.screenshot(screenshots, "desktop-window-signed-in.png")


@pytest.mark.desktop
def test_new_request_notifies_and_the_click_opens_it(running, screenshots):
    app, daemon = running
    assert app.path().startswith("/approvals"), "needs the signed-in window"
    before = len(daemon.calls)
    thread_id = app.mutation("threads:create", {"title": "Migrate <billing> & invoices"})
    request_id = app.mutation(
        "approvalRequests:create", {"threadId": thread_id, "planContent": "# Plan\n\n1. Do it"}
    )
    calls = daemon.wait_for(before + 1, timeout=60)
    assert len(calls) == before + 1, "no notification for the new request"
    note = calls[-1]
    assert note["app_name"] == "Threadline"
    assert note["summary"] == "A plan waits for review"
    assert note["body"] == "Migrate &lt;billing&gt; &amp; invoices"
    assert "default" in note["actions"]
    daemon.click(note["id"])
    _wait(lambda: app.path() == f"/approvals/{request_id}", 60, "the request opened by the click")
    time.sleep(2)
    app.screenshot(screenshots, "desktop-window-request.png")
    # No second notification for the same request.
    time.sleep(desktop.POLL_SECONDS + 1)
    assert len(daemon.calls) == before + 1


def _command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # it ended meanwhile (the migrate step, say)
        return ""


def _in_group(pgid: int) -> list[int]:
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
        except (OSError, psutil.Error):
            continue
    return members


def _close_window(env: dict, window: str) -> None:
    """What a window manager does when the close button is pressed: WM_DELETE_WINDOW."""
    from Xlib import X, display
    from Xlib.protocol import event

    screen = display.Display(env["DISPLAY"])
    target = screen.create_resource_object("window", int(window))
    protocols = screen.intern_atom("WM_PROTOCOLS")
    message = event.ClientMessage(
        window=target,
        client_type=protocols,
        data=(32, [screen.intern_atom("WM_DELETE_WINDOW"), X.CurrentTime, 0, 0, 0]),
    )
    target.send_event(message, event_mask=X.NoEventMask)
    screen.flush()
    screen.close()


@pytest.mark.desktop
def test_closing_the_window_stops_the_server(running):
    app, _ = running
    children = psutil.Process(app.process.pid).children(recursive=True)
    port = int(app.base_url.rsplit(":", 1)[1])
    server_groups = {c.pid for c in children if "reflex" in _command_line(c)}
    assert server_groups, "no server among the command's children"
    _close_window(app.env, app.window())
    assert app.process.wait(60) == 0
    _gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == [], [p.cmdline() for p in alive]
    assert not any(_in_group(group) for group in server_groups)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the server's port is still open"
    saved = json.loads((Path(app.env["XDG_CONFIG_HOME"]) / "threadline/desktop.json").read_text())
    assert saved["width"] >= desktop.MIN_WIDTH and saved["height"] >= desktop.MIN_HEIGHT


@pytest.mark.desktop
@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGKILL])
def test_stopping_the_command_while_starting_leaves_no_server(tmp_path, stop_with):
    """SIGTERM (or Ctrl-C) during the start: the server's whole process group goes too; after a
    SIGKILL (no cleanup possible) the server still ends, told by the kernel (PR_SET_PDEATHSIG)."""
    _require_desktop_tools()
    app = Desktop(tmp_path)
    app.env["DISPLAY"] = os.environ.get("DISPLAY", ":0")  # not reached: stopped before the window
    app.cli("migrate")
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "desktop"],
        cwd=REPO,
        env=app.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        leader = psutil.Process(process.pid)
        server = _wait(
            lambda: [c for c in leader.children() if "reflex" in _command_line(c)],
            60,
            "the server process",
        )
        time.sleep(1)
        group = [server[0], *server[0].children(recursive=True)]
        process.send_signal(stop_with)
        code = process.wait(60)
        assert code == (128 + signal.SIGTERM if stop_with == signal.SIGTERM else -signal.SIGKILL)
        _gone, alive = psutil.wait_procs(group, timeout=30)
        assert alive == []
        # Nor anything started later in the server's process group (the build's bun, say).
        _wait(lambda: not _in_group(server[0].pid), 30, "the server's process group to end")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
