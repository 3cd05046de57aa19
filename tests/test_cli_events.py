"""The CLI is a short-lived process: with REDIS_URL its writes' events reach the servers (live sync
views, ended sessions) before it exits."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from api.events import bus
from api.settings import get_settings
from api.vocabulary import SYNC_TOUCHED
from tests.test_scale_out import REDIS_URL, _redis_ok


def test_cli_writes_are_published_to_redis_before_it_exits(sqlite_url, monkeypatch):
    if not _redis_ok():
        pytest.skip("needs TEST_REDIS_URL pointing at a reachable Redis")
    import redis

    from api.cli import run_function

    channel = f"threadline-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    monkeypatch.setenv("REDIS_CHANNEL", channel)
    get_settings.cache_clear()
    listener = redis.Redis.from_url(REDIS_URL).pubsub()
    listener.subscribe(channel)
    listener.get_message(timeout=2)  # the subscribe confirmation
    monkeypatch.setattr(bus, "_redis", None)
    monkeypatch.setattr(bus, "_redis_task", None)
    # asyncio.run in a thread of its own, as the CLI's process would run it.
    worker = threading.Thread(target=run_function, args=("threads:create", {"title": "cli"}))
    worker.start()
    worker.join(30)
    topics = []
    while (message := listener.get_message(timeout=2)) is not None:
        if message["type"] == "message":
            topics.append(json.loads(message["data"])["topic"])
    assert SYNC_TOUCHED in topics
