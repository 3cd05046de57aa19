"""A stand-in for the desktop's notification service (org.freedesktop.Notifications on a D-Bus
session bus), for tests: it records Notify calls and can "click" a notification.

    with NotificationDaemon(bus_address) as daemon:
        ...; daemon.calls; daemon.click(notification_id)
"""

import asyncio
import threading
import time

from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method, signal

# dbus-fast reads D-Bus signatures from the annotations: "s" string, "u" uint32, "as" array ...
# (ruff takes them for forward references, hence the noqa).


class _Notifications(ServiceInterface):
    def __init__(self, calls: list[dict]) -> None:
        super().__init__("org.freedesktop.Notifications")
        self.calls = calls

    @method()
    def Notify(  # noqa: N802
        self,
        app_name: "s",  # noqa: F821
        replaces_id: "u",  # noqa: F821
        app_icon: "s",  # noqa: F821
        summary: "s",  # noqa: F821
        body: "s",  # noqa: F821
        actions: "as",  # noqa: F722
        hints: "a{sv}",  # noqa: F722
        expire_timeout: "i",  # noqa: F821
    ) -> "u":  # noqa: F821
        notification_id = len(self.calls) + 1
        self.calls.append(
            {
                "id": notification_id,
                "app_name": app_name,
                "summary": summary,
                "body": body,
                "actions": list(actions),
            }
        )
        return notification_id

    @method()
    def GetCapabilities(self) -> "as":  # noqa: N802, F722
        return ["body", "actions"]

    @method()
    def GetServerInformation(self) -> "ssss":  # noqa: N802, F821
        return ["threadline-test-daemon", "threadline", "1.0", "1.2"]

    @method()
    def CloseNotification(self, notification_id: "u") -> None:  # noqa: N802, F821
        return None

    @signal()
    def ActionInvoked(self, notification_id: int, action_key: str) -> "us":  # noqa: N802, F821
        return [notification_id, action_key]

    @signal()
    def NotificationClosed(self, notification_id: int, reason: int) -> "uu":  # noqa: N802, F821
        return [notification_id, reason]


class NotificationDaemon:
    def __init__(self, bus_address: str) -> None:
        self.bus_address = bus_address
        self.calls: list[dict] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._interface = _Notifications(self.calls)
        self._stop: asyncio.Future | None = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        try:
            bus = await MessageBus(bus_address=self.bus_address).connect()
            bus.export("/org/freedesktop/Notifications", self._interface)
            await bus.request_name("org.freedesktop.Notifications")
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._stop = self._loop.create_future()
        self._ready.set()
        await self._stop
        bus.disconnect()

    def __enter__(self) -> "NotificationDaemon":
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *_exc) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set_result, None)
        self._thread.join(5)

    def click(self, notification_id: int) -> None:
        """What a notification server does when the person clicks the notification's body."""
        self._loop.call_soon_threadsafe(self._interface.ActionInvoked, notification_id, "default")

    def wait_for(self, count: int, timeout: float = 30) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        return list(self.calls)
