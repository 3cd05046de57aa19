"""Harness for the client tests: a real Threadline API served by uvicorn in its own thread, a
TCP proxy that drops and delays connections, and a scripted HTTP stub.

The API's group-commit writer belongs to one event loop, so the server thread owns its loop and
everything else talks to it over HTTP; setup that needs `api.calls.call` (API keys, people) runs
on that same loop through `ThreadlineServer.run`.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from threadline_client import Threadline

# Every wait in these tests is bounded by this, so that a bug fails a test instead of hanging it.
BOUND = 20.0
# Retry quickly in tests.
FAST = {"backoff": 0.01, "max_backoff": 0.05}


@dataclass
class ThreadlineServer:
    url: str
    loop: asyncio.AbstractEventLoop
    api_key: str = ""
    clients: list[Threadline] = field(default_factory=list)

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine (e.g. `api.calls.call(...)`) on the server's own event loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(BOUND)

    def new_api_key(self, name: str = "client tests") -> str:
        from api.calls import call
        from api.cli import CLI_CALLER

        return self.run(call("apiKeys:create", {"name": name}, CLI_CALLER))["key"]

    def person(self, role: str = "reviewer") -> str:
        """A new person with this role, signed in; returns their session token."""
        from api.calls import call
        from api.cli import CLI_CALLER
        from api.services import signin

        email, password = f"{role}-{random.randrange(10**9)}@example.com", "a-good-password-1"
        args = {"email": email, "name": role.title(), "role": role, "password": password}
        self.run(call("users:create", args, CLI_CALLER))
        return self.run(signin.sign_in(email, password)).token

    def client(self, url: str | None = None, api_key: str | None = None, **options) -> Threadline:
        """A sync client, closed when the test ends."""
        client = Threadline(url or self.url, api_key or self.api_key, **{**FAST, **options})
        self.clients.append(client)
        return client

    def query(self, path: str, args: dict[str, Any]) -> Any:
        """Read straight from the server (not through any proxy under test)."""
        response = httpx.post(
            f"{self.url}/api/query",
            json={"path": path, "args": args},
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=BOUND,
        )
        body = response.json()
        assert body["status"] == "success", body
        return body["value"]


@contextmanager
def running_server() -> Iterator[ThreadlineServer]:
    """The API on a free port of 127.0.0.1, against the database the environment names."""
    import uvicorn

    from api.http import create_api

    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    # and without it every reply waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_api(), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        finally:
            # The API's group-commit writer task lives on this loop; end it as asyncio.run would.
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    thread = threading.Thread(target=serve, name="threadline-test-server", daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(int(BOUND / 0.01)):
        if server.started:
            started.set()
            break
        started.wait(0.01)
    assert started.is_set(), "the test server did not start"
    handle = ThreadlineServer(url=f"http://127.0.0.1:{port}", loop=loop)
    handle.api_key = handle.new_api_key()
    try:
        yield handle
    finally:
        for client in handle.clients:
            client.close(timeout=0)
        server.should_exit = True
        thread.join(BOUND)
        sock.close()


class FlakyProxy:
    """A TCP proxy in front of the server that, at random, drops a connection before forwarding
    a request (nothing applied), drops it after the request went through but before the reply
    arrives (applied, reply lost), and delays some chunks."""

    def __init__(
        self,
        target_port: int,
        *,
        seed: int = 6,
        drop_before: float = 0.12,
        drop_after: float = 0.12,
        delay: float = 0.2,
        max_delay: float = 0.02,
    ) -> None:
        self.target_port = target_port
        self.rng = random.Random(seed)
        self.drop_before, self.drop_after = drop_before, drop_after
        self.delay, self.max_delay = delay, max_delay
        self.dropped_before = self.dropped_after = self.delayed = 0
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FlakyProxy:
        self._thread.start()
        start = asyncio.start_server(self._handle, "127.0.0.1", 0)
        self._server = asyncio.run_coroutine_threadsafe(start, self.loop).result(BOUND)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *_exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            connections = asyncio.all_tasks() - {asyncio.current_task()}
            for task in connections:
                task.cancel()
            await asyncio.gather(*connections, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(BOUND)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(BOUND)
        self.loop.close()

    async def _handle(self, client_reader, client_writer) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            client_writer.close()
            return
        writers = (client_writer, upstream_writer)

        async def pump(reader, writer, towards_server: bool) -> None:
            try:
                while data := await reader.read(65536):
                    roll = self.rng.random()
                    if towards_server and roll < self.drop_before:
                        self.dropped_before += 1
                        break
                    if not towards_server and roll < self.drop_after:
                        self.dropped_after += 1
                        break
                    if self.rng.random() < self.delay:
                        self.delayed += 1
                        await asyncio.sleep(self.rng.uniform(0, self.max_delay))
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                for each in writers:  # either side ending ends the whole connection
                    each.close()

        await asyncio.gather(
            pump(client_reader, upstream_writer, True),
            pump(upstream_reader, client_writer, False),
        )


Reply = tuple[int, dict[str, str], Any]
SUCCESS: Reply = (200, {}, {"status": "success", "value": None})


class StubServer:
    """An HTTP server whose answers come from `respond(request)`; it records every request as
    {"path", "headers", "body"}. `respond` may block (e.g. on an Event) to hold a request."""

    def __init__(self, respond: Callable[[dict[str, Any]], Reply]) -> None:
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                request = {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(raw or b"{}"),
                }
                stub.requests.append(request)
                status, headers, body = respond(request)
                payload = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(BOUND)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])
