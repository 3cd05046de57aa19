"""A 200 means committed: SIGKILL the server in the middle of a load of 64 concurrent
connections, start it again, and find every acknowledged write, with its content."""

from __future__ import annotations

import asyncio
import random

import httpx

from api.calls import call
from api.cli import CLI_CALLER
from tests.server_process import ServerProcess


async def test_every_acknowledged_write_survives_sigkill(database_url):
    key = (await call("apiKeys:create", {"name": "durability"}, CLI_CALLER))["key"]
    threads = [await call("threads:create", {"title": f"t{i}"}, CLI_CALLER) for i in range(8)]
    headers = {"Authorization": f"Bearer {key}"}
    server = ServerProcess(database_url).start()
    acknowledged: dict[str, tuple[str, str]] = {}  # message id -> (thread, content)
    stop = asyncio.Event()

    async def connection(client: httpx.AsyncClient, worker: int) -> None:
        sent = 0
        while not stop.is_set() and sent < 2000:
            thread, content = random.choice(threads), f"w{worker}-{sent}-" + "x" * 200
            sent += 1
            body = {
                "path": "messages:create",
                "args": {"threadId": thread, "role": "assistant", "content": content},
            }
            try:
                response = await client.post("/api/mutation", json=body, headers=headers)
            except httpx.HTTPError:
                continue  # the server died under this request: not acknowledged
            if response.status_code == 200 and response.json()["status"] == "success":
                acknowledged[response.json()["value"]] = (thread, content)

    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    try:
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=10) as client:
            workers = [asyncio.create_task(connection(client, i)) for i in range(64)]
            for _ in range(200):  # until a good share of writes is in, bounded
                await asyncio.sleep(0.05)
                if len(acknowledged) >= 300:
                    break
            server.kill()
            stop.set()
            await asyncio.wait_for(asyncio.gather(*workers), timeout=60)
    finally:
        server.kill()
    assert len(acknowledged) >= 300

    restarted = ServerProcess(database_url).start()
    try:
        async with httpx.AsyncClient(base_url=restarted.url, timeout=30) as client:
            stored: dict[str, tuple[str, str]] = {}
            for thread in threads:
                body = {"path": "messages:list", "args": {"threadId": thread}}
                response = await client.post("/api/query", json=body, headers=headers)
                messages = response.json()["value"]
                assert [m["order"] for m in messages] == list(range(len(messages)))
                stored.update({m["_id"]: (thread, m["content"]) for m in messages})
    finally:
        restarted.stop()
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged writes lost"
    assert all(stored[message_id] == expected for message_id, expected in acknowledged.items())
