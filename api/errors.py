"""Errors a function raises. They reach HTTP callers as `status: error` with the message."""

from __future__ import annotations

from typing import Any


class FunctionError(Exception):
    """A function refused the call: bad arguments, not found, conflict or not allowed.

    Nothing the function wrote is kept (its savepoint is rolled back).
    """

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class NotAllowed(FunctionError):
    pass


class Unavailable(Exception):
    """The database could not commit; nothing was applied and the caller may retry."""
