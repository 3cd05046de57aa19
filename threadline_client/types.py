"""Shapes of what the server returns, and the argument building the helpers share.

Documents are plain dicts with the wire's camelCase keys: `_id`, `_creationTime` (ms since the
epoch) and the table's fields (`threadId`, `planContent` ...)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Document = dict[str, Any]
Documents = list[Document]

MessageRole = Literal["user", "assistant", "system", "tool"]
ThreadStatus = Literal["active", "archived"]
ArtifactStatus = Literal["draft", "pending_review", "approved", "rejected", "final"]
ToolCallStatus = Literal["started", "succeeded", "failed"]
ApprovalStatus = Literal[
    "pending", "approved", "rejected", "changes_requested", "cancelled", "expired"
]
Decision = Literal["approved", "rejected", "changes_requested"]

# approvalRequests:get holds a long-poll at most this long; longer waits loop.
MAX_WAIT_SECONDS = 60.0


class _PlannedToolCallName(TypedDict):
    toolName: str


class PlannedToolCall(_PlannedToolCallName, total=False):
    """One entry of approvalRequests:create's plannedToolCalls: a tool the plan will run and,
    optionally, the exact input it will get (leave `input` out to allow any input)."""

    input: Any


class Page(TypedDict):
    """One page of a paginated list. Pass `continueCursor` back as `cursor` for the next page,
    until `isDone`."""

    page: Documents
    isDone: bool
    continueCursor: str


def compact(**fields: Any) -> dict[str, Any]:
    """The wire arguments: camelCase names given by the caller, None left out."""
    return {name: value for name, value in fields.items() if value is not None}


def pagination(num_items: int | None, cursor: str | None) -> dict[str, Any] | None:
    if num_items is None:
        if cursor is not None:
            raise ValueError("cursor needs num_items (the page size)")
        return None
    return {"numItems": num_items, "cursor": cursor}


def tool_call_args(
    thread_id: str,
    tool_name: str,
    input: Any,
    output: Any,
    status: ToolCallStatus | None,
    tool_call_id: str | None,
    duration_ms: float | None,
) -> dict[str, Any]:
    """toolCalls:record's arguments; `input` is required, so it is sent even when None."""
    return {
        "threadId": thread_id,
        "toolName": tool_name,
        "input": input,
        **compact(output=output, status=status, toolCallId=tool_call_id, durationMs=duration_ms),
    }
