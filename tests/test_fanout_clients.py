"""The fan-out benchmark's protocol clients (bench/fanout.py) against the real server: several
signed-in reviewer tabs over the console's socket.io protocol, and several Convex sync
subscribers, all get the frame that shows a request (or message) created over HTTP. Functional
only (no timing): this keeps the benchmark's clients working when the console or the sync
protocol change. A tab without a live session gets no queue at all."""

from __future__ import annotations

import asyncio

import pytest

from bench import fanout
from bench._servers import threadline_server_process

CLIENTS = 5
REQUESTS = 2


@pytest.fixture
def served(sqlite_url, monkeypatch):
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    key, thread = fanout.prepare(sqlite_url, pending=3)
    tokens = fanout.reviewer_sessions(CLIENTS, accounts=2)
    env = {"DATABASE_URL": sqlite_url, "BCRYPT_ROUNDS": "4"}
    with threadline_server_process(env) as (url, _process):
        yield {"url": url, "key": key, "threadId": thread, "tokens": tokens}


def run(spec: dict, tokens: list[str]) -> tuple[list, list[str], dict]:
    async def go():
        clients, errors = await fanout.connect_all(spec, tokens)
        try:
            result = await fanout.probe(spec, clients, REQUESTS, pause=0) if clients else {}
        finally:
            await asyncio.gather(*(client.close() for client in clients))
        return clients, errors, result

    return asyncio.run(go())


@pytest.mark.parametrize("protocol", fanout.PROTOCOLS)
def test_every_client_gets_the_frame_of_a_new_document(served, protocol):
    spec = {**served, "protocol": protocol}
    clients, errors, result = run(spec, served["tokens"])
    assert errors == [] and len(clients) == CLIENTS
    assert result["missed"] == 0
    assert len(result["samples"]) == CLIENTS * REQUESTS
    if protocol != "sync-messages":
        # the 3 requests pending before, and the 2 new ones, in every tab's queue
        assert all(len(client.ids) == 3 + REQUESTS for client in clients)
    if protocol == "console":  # the computed var follows the rows
        assert all(set(client.pending_ids) == client.ids for client in clients)


def test_a_tab_without_a_live_session_gets_no_queue(served, monkeypatch):
    spec = {**served, "protocol": "console"}
    monkeypatch.setattr(fanout, "WAIT_SECONDS", 5.0)

    async def go():
        clients, errors = await fanout.connect_all(spec, ["tls_not-a-session", ""])
        await asyncio.gather(*(client.close() for client in clients))
        return clients, errors

    clients, errors = asyncio.run(go())
    assert clients == [] and len(errors) == 2
