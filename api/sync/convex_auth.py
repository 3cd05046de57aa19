"""@convex-dev/auth's Password sign-in (placeholder until the actions land)."""

from __future__ import annotations

from typing import Any

from api.errors import FunctionError
from api.registry import Caller


def caller_for_jwt(token: str) -> tuple[Caller, float] | None:
    return None


async def run_action(path: str, args: Any, caller: Caller | None, _conn: Any) -> Any:
    raise FunctionError(f"Could not find public function for {path!r}")
