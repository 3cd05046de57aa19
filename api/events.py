"""After-commit notifications: approval decisions, new requests, changed threads.

Published only once the data is committed. Listeners in this process are called directly; with
`REDIS_URL` set, every event also goes through one Redis channel so that other workers' listeners
(long-polls, open console tabs, sync sockets) hear it too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


def _channel() -> str:
    from api.settings import get_settings

    return get_settings().redis_channel


Listener = Callable[[str, dict[str, Any]], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = defaultdict(set)
        self._redis = None
        self._redis_task: asyncio.Task | None = None
        self._publishing: set[asyncio.Task] = set()

    @property
    def _origin(self) -> str:
        # Per process, not per object: the server may import this module before forking its
        # workers, and each worker must still know its own events from the others'.
        return f"{os.getpid()}-{id(self)}"

    def add_listener(self, topic: str, listener: Listener) -> None:
        self._listeners[topic].add(listener)

    def remove_listener(self, topic: str, listener: Listener) -> None:
        listeners = self._listeners.get(topic)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[topic]

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self._dispatch(topic, payload)
        if self._redis is not None:
            message = json.dumps({"origin": self._origin, "topic": topic, "payload": payload})
            task = asyncio.get_running_loop().create_task(self._redis.publish(_channel(), message))
            self._publishing.add(task)
            task.add_done_callback(self._publishing.discard)
            task.add_done_callback(_log_failure)

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until the events published so far have reached Redis (a short-lived process such
        as the CLI calls this before it exits, so that the servers hear of its writes)."""
        if self._publishing:
            await asyncio.wait(list(self._publishing), timeout=timeout)

    def _dispatch(self, topic: str, payload: dict[str, Any]) -> None:
        # Listeners of the exact topic and of its family ("approval:apr_1" -> "approval:*").
        family = topic.split(":", 1)[0] + ":*"
        for key in (topic, family):
            for listener in list(self._listeners.get(key, ())):
                try:
                    listener(topic, payload)
                except Exception:  # one broken listener must not stop the others
                    log.exception("event listener failed for %s", topic)

    async def wait_for(self, topic: str, timeout: float) -> bool:
        """Wait until `topic` is published or `timeout` passes; True if it was published."""
        loop = asyncio.get_running_loop()
        fired = loop.create_future()

        def listener(_topic: str, _payload: dict[str, Any]) -> None:
            if not fired.done():
                fired.set_result(True)

        self.add_listener(topic, listener)
        try:
            await asyncio.wait_for(fired, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.remove_listener(topic, listener)

    async def connect_redis(self, url: str) -> None:
        """Relay events between workers through Redis pub/sub."""
        if self._redis_task is not None:
            return
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(url)
        self._redis_task = asyncio.get_running_loop().create_task(self._relay(url))

    async def _relay(self, url: str) -> None:
        import redis.asyncio as aioredis

        while True:
            try:
                client = aioredis.from_url(url)
                pubsub = client.pubsub()
                await pubsub.subscribe(_channel())
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    event = json.loads(message["data"])
                    if event.get("origin") != self._origin:
                        self._dispatch(event["topic"], event["payload"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis event relay lost; reconnecting")
                await asyncio.sleep(1)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("publishing an event to redis failed: %s", task.exception())


bus = EventBus()
