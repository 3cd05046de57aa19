"""A real console backend (`reflex run --env prod --backend-only`, SQLite) and a raw socket.io
client speaking Reflex's event protocol, for attacking the console the way a script would:
forged events naming any handler, any payload, any client token, any cookie and Origin.

    server = ConsoleServer(tmp_path).start()
    async with Socket(server, token="tab-1", cookie=server.session("reviewer")) as tab:
        updates = await tab.send(AdminUsersState, "set_role", {"user_id": ..., "role": "viewer"})

Runs from a scratch folder linking to the project, so nothing touches the project's .web/.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

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

PEOPLE = {
    "admin": ("ada@example.com", "Ada Admin", "admin-password-1"),
    "reviewer": ("rita@example.com", "Rita Reviewer", "reviewer-password-1"),
    "viewer": ("vic@example.com", "Vic Viewer", "viewer-password-1"),
    "user": ("ulla@example.com", "Ulla User", "user-password-1"),
}
SEED = """
import asyncio, json, sys
from api import migrations
from api.calls import call
from api.cli import CLI_CALLER
people = json.loads(sys.argv[2])
migrations.upgrade(sys.argv[1])
async def main():
    ids = {}
    for role, (email, name, password) in people.items():
        ids[role] = await call("users:create", {"email": email, "name": name, "role": role,
                                                 "password": password}, CLI_CALLER)
    key = (await call("apiKeys:create", {"name": "attack backend"}, CLI_CALLER))["key"]
    print(json.dumps({"ids": ids, "key": key}))
asyncio.run(main())
"""


class ConsoleServer:
    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = f"sqlite:///{scratch / 'attack.db'}"
        self.process: subprocess.Popen | None = None
        self.log_path = scratch / "server.log"
        self.ids: dict[str, str] = {}
        self.key = ""
        self.env = {
            **os.environ,
            **reflex_env(),
            "DATABASE_URL": self.database_url,
            "BCRYPT_ROUNDS": "4",
            "PYTHONPATH": str(ROOT),
        }
        for name in ("REDIS_URL", "REFLEX_REDIS_URL"):
            self.env.pop(name, None)

    def start(self, timeout: float = 240) -> ConsoleServer:
        link_project(self.scratch)
        seeded = subprocess.run(
            [sys.executable, "-c", SEED, self.database_url, json.dumps(PEOPLE)],
            cwd=self.scratch,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert seeded.returncode == 0, seeded.stderr[-3000:]
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.ids, self.key = seed["ids"], seed["key"]
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            reflex_command(self.port),
            cwd=self.scratch,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_healthy(self.url, self.process, timeout, log=self.log_path, interval=0.3)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=20)
        if getattr(self, "log", None) is not None:
            self.log.close()

    # ---- the HTTP API ---------------------------------------------------------------------

    def session(self, who: str) -> str:
        email, _, password = PEOPLE[who]
        answer = httpx.post(
            f"{self.url}/api/auth/signin", json={"email": email, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]

    def _call(self, kind: str, path: str, args: Any, token: str | None = None) -> Any:
        answer = httpx.post(
            f"{self.url}/api/{kind}",
            json={"path": path, "args": args},
            headers={"Authorization": f"Bearer {token or self.key}"},
            timeout=30,
        ).json()
        assert answer["status"] == "success", answer
        return answer["value"]

    def mutation(self, path: str, args: Any, token: str | None = None) -> Any:
        return self._call("mutation", path, args, token)

    def query(self, path: str, args: Any, token: str | None = None) -> Any:
        return self._call("query", path, args, token)

    def admin_query(self, path: str, args: Any) -> Any:
        return self.query(path, args, self.session("admin"))

    def pending_request(self, secret: str) -> tuple[str, str, str]:
        """A thread with a plan artifact and a pending request; `secret` is in its title and
        in the plan."""
        thread_id = self.mutation("threads:create", {"title": f"thread {secret}"})
        plan = f"# Plan {secret}\n\n1. do {secret}"
        artifact_id = self.mutation(
            "artifacts:create",
            {"threadId": thread_id, "type": "plan", "title": f"plan {secret}", "content": plan},
        )
        request_id = self.mutation(
            "approvalRequests:create",
            {"threadId": thread_id, "planContent": plan, "artifactId": artifact_id},
        )
        return thread_id, artifact_id, request_id

    def health_ok(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/health", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False


def route_args(path: str) -> dict[str, str]:
    """The dynamic route's argument of `path`, as the browser's router adds it to each event's
    query (/threads/thr_1 -> {"thread_id_param": "thr_1"}): the detail pages read their id
    from it."""
    from app import routes

    for route in (routes.APPROVAL, routes.THREAD, routes.ARTIFACT):
        prefix, arg = route.rsplit("/", 1)
        rest = path.removeprefix(prefix + "/")
        if rest != path and rest and "/" not in rest:
            return {arg.strip("[]"): unquote(rest)}
    return {}


def handler_name(state: type, handler: str) -> str:
    """The wire name of `state.handler`, as the built frontend would send it (it need not exist:
    a forged event may name anything)."""
    return f"{state.get_full_name()}.{handler}"


class Socket:
    """One tab's socket, speaking Reflex's protocol by hand (python-socketio)."""

    NAMESPACE = "/_event"

    def __init__(
        self,
        server: ConsoleServer,
        token: str,
        cookie: str | None = None,
        origin: str | None = None,
    ) -> None:
        import socketio

        self.server, self.token = server, token
        self.headers: dict[str, str] = {}
        if cookie:
            self.headers["Cookie"] = f"threadline_session={cookie}"
        if origin:
            self.headers["Origin"] = origin
        self.client = socketio.AsyncClient(reconnection=False)
        self.updates: list[dict[str, Any]] = []
        self.new_token: str | None = None
        self._arrived = asyncio.Event()
        self.client.on("event", self._on_update, namespace=self.NAMESPACE)
        self.client.on("new_token", self._on_new_token, namespace=self.NAMESPACE)

    async def _on_update(self, data: dict[str, Any]) -> None:
        self.updates.append(data)
        self._arrived.set()

    async def _on_new_token(self, token: str) -> None:
        self.new_token = token

    async def __aenter__(self) -> Socket:
        await self.client.connect(
            f"{self.server.url}?token={self.token}",
            socketio_path="/_event",
            transports=["websocket"],
            headers=self.headers,
            namespaces=[self.NAMESPACE],
            wait_timeout=20,
        )
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.disconnect()

    async def emit_raw(self, data: Any) -> None:
        await self.client.emit("event", data, namespace=self.NAMESPACE)

    async def send(
        self,
        state: type | str,
        handler: str = "",
        payload: dict[str, Any] | None = None,
        path: str = "/approvals",
        query: dict[str, str] | None = None,
        quiet: float = 0.8,
        timeout: float = 10.0,
        until: str | None = None,
    ) -> str:
        """Sends one event and returns every update that came back (as JSON text), waiting
        until `quiet` seconds pass without any (Reflex marks no update as the last), or with
        `until`, until that text has arrived (or `timeout`)."""
        name = state if isinstance(state, str) else handler_name(state, handler)
        self.updates.clear()
        await self.emit_raw(
            {
                "name": name,
                "payload": payload or {},
                "router_data": {
                    "pathname": path,
                    "query": {**(query or {}), **route_args(path)},
                    "asPath": path + ("?" + urlencode(query) if query else ""),
                },
            }
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._arrived.clear()
            if until is not None and until in json.dumps(self.updates):
                break
            try:
                await asyncio.wait_for(self._arrived.wait(), quiet)
            except TimeoutError:
                if until is None:
                    break
        return json.dumps(self.updates)

    async def drain(self, seconds: float = 3.0) -> str:
        """What arrives in the next `seconds` (late answers of the last event sent)."""
        self.updates.clear()
        await asyncio.sleep(seconds)
        return json.dumps(self.updates)

    async def hydrate(
        self, path: str = "/approvals", query: dict[str, str] | None = None, quiet: float = 0.8
    ) -> str:
        import reflex as rx

        return await self.send(rx.State, "hydrate", path=path, query=query, quiet=quiet)
