"""Typed helpers for `AsyncThreadline`: the same methods, arguments and documentation as in
`resources.py`, each a coroutine. Keep the two files in step (tests/test_client.py checks that
their signatures match).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from threadline_client.errors import ThreadlineError
from threadline_client.types import (
    MAX_WAIT_SECONDS,
    ApprovalStatus,
    ArtifactStatus,
    Decision,
    Document,
    Documents,
    MessageRole,
    Page,
    PlannedToolCall,
    ThreadStatus,
    ToolCallStatus,
    compact,
    pagination,
    tool_call_args,
)

if TYPE_CHECKING:
    from threadline_client.client import AsyncThreadline


class _Resource:
    def __init__(self, client: AsyncThreadline) -> None:
        self._client = client


class AsyncThreads(_Resource):
    async def create(
        self,
        *,
        title: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """threads:create. Starts a thread (status active); returns its id. `user_id` is the
        end user of your chat app the thread belongs to, if any."""
        args = compact(title=title, userId=user_id, metadata=metadata)
        return await self._client.mutation("threads:create", args)

    async def get(self, thread_id: str) -> Document | None:
        """threads:get. The thread, or None if there is none with that id."""
        return await self._client.query("threads:get", {"threadId": thread_id})

    async def list(
        self,
        *,
        num_items: int = 100,
        cursor: str | None = None,
        status: ThreadStatus | None = None,
        user_id: str | None = None,
        search: str | None = None,
    ) -> Page:
        """threads:list. One page of threads, newest first; `search` matches titles."""
        args = compact(
            paginationOpts=pagination(num_items, cursor),
            status=status,
            userId=user_id,
            search=search,
        )
        return await self._client.query("threads:list", args)

    async def update(
        self,
        thread_id: str,
        *,
        title: str | None = None,
        status: ThreadStatus | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """threads:update. Changes the given fields (metadata is replaced, not merged)."""
        args = compact(threadId=thread_id, title=title, status=status, metadata=metadata)
        await self._client.mutation("threads:update", args)

    async def remove(self, thread_id: str) -> None:
        """threads:remove. Deletes the thread with its messages, artifacts, session, tool calls
        and approval requests."""
        await self._client.mutation("threads:remove", {"threadId": thread_id})


class AsyncMessages(_Resource):
    async def create(
        self,
        thread_id: str,
        role: MessageRole,
        content: str,
        *,
        order: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """messages:create. Appends a message; returns its id. Without `order` the server gives
        it the next one in the thread (the first message gets 0); a taken order is an error."""
        args = compact(
            threadId=thread_id, role=role, content=content, order=order, metadata=metadata
        )
        return await self._client.mutation("messages:create", args)

    async def post_create(
        self,
        thread_id: str,
        role: MessageRole,
        content: str,
        *,
        order: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """messages:create, fire and forget: queued and sent in the background, in the order
        posted within the thread (so server-assigned orders follow the posting order)."""
        args = compact(
            threadId=thread_id, role=role, content=content, order=order, metadata=metadata
        )
        await self._client.post("messages:create", args)

    async def list(
        self, thread_id: str, *, num_items: int | None = None, cursor: str | None = None
    ) -> Documents | Page:
        """messages:list. Without `num_items`: every message, by order. With it: one page,
        newest first."""
        args = compact(threadId=thread_id, paginationOpts=pagination(num_items, cursor))
        return await self._client.query("messages:list", args)


class AsyncArtifacts(_Resource):
    async def create(
        self,
        thread_id: str,
        type: str,
        content: str,
        *,
        title: str | None = None,
        status: ArtifactStatus | None = None,
    ) -> str:
        """artifacts:create. Stores version 1 of an artifact (`type`: plan, report or another
        short lowercase word; `status` defaults to draft); returns its id."""
        args = compact(threadId=thread_id, type=type, content=content, title=title, status=status)
        return await self._client.mutation("artifacts:create", args)

    async def update(
        self,
        artifact_id: str,
        *,
        content: str | None = None,
        status: ArtifactStatus | None = None,
        title: str | None = None,
    ) -> None:
        """artifacts:update. A content change makes a new version; a status or title change
        alone does not."""
        args = compact(artifactId=artifact_id, content=content, status=status, title=title)
        await self._client.mutation("artifacts:update", args)

    async def get(self, artifact_id: str) -> Document | None:
        """artifacts:get. The artifact at its current version, or None."""
        return await self._client.query("artifacts:get", {"artifactId": artifact_id})

    async def list(
        self,
        *,
        thread_id: str | None = None,
        type: str | None = None,
        status: ArtifactStatus | None = None,
        num_items: int | None = None,
        cursor: str | None = None,
    ) -> Documents | Page:
        """artifacts:list. Without `num_items`: every match, oldest first. With it: one page,
        newest first."""
        args = compact(
            threadId=thread_id,
            type=type,
            status=status,
            paginationOpts=pagination(num_items, cursor),
        )
        return await self._client.query("artifacts:list", args)

    async def versions(self, artifact_id: str) -> Documents:
        """artifacts:versions. Every version, 1 to current, oldest first."""
        return await self._client.query("artifacts:versions", {"artifactId": artifact_id})


class AsyncSessions(_Resource):
    async def upsert(
        self,
        thread_id: str,
        *,
        sdk_session_id: str | None = None,
        phase: str | None = None,
        plan: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> str:
        """sessions:upsert. Creates the thread's SDK session or merges the given fields into it
        (fields left out are kept); returns the session's id. `phase` is free text, e.g.
        planning, awaiting_approval, executing, done."""
        args = compact(
            threadId=thread_id, sdkSessionId=sdk_session_id, phase=phase, plan=plan, state=state
        )
        return await self._client.mutation("sessions:upsert", args)

    async def post_upsert(
        self,
        thread_id: str,
        *,
        sdk_session_id: str | None = None,
        phase: str | None = None,
        plan: str | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        """sessions:upsert, fire and forget (ordered with the thread's other posts)."""
        args = compact(
            threadId=thread_id, sdkSessionId=sdk_session_id, phase=phase, plan=plan, state=state
        )
        await self._client.post("sessions:upsert", args)

    async def get(self, thread_id: str) -> Document | None:
        """sessions:get. The thread's session, or None."""
        return await self._client.query("sessions:get", {"threadId": thread_id})


class AsyncToolCalls(_Resource):
    async def record(
        self,
        thread_id: str,
        tool_name: str,
        input: Any,
        *,
        output: Any = None,
        status: ToolCallStatus | None = None,
        tool_call_id: str | None = None,
        duration_ms: float | None = None,
    ) -> str:
        """toolCalls:record. Records a tool call; returns the document's id. Recording the same
        `tool_call_id` again in the thread updates that call (output, status, duration): record
        it as started, then as succeeded or failed. Without a status: succeeded if there is an
        output, else started."""
        args = tool_call_args(
            thread_id, tool_name, input, output, status, tool_call_id, duration_ms
        )
        return await self._client.mutation("toolCalls:record", args)

    async def post_record(
        self,
        thread_id: str,
        tool_name: str,
        input: Any,
        *,
        output: Any = None,
        status: ToolCallStatus | None = None,
        tool_call_id: str | None = None,
        duration_ms: float | None = None,
    ) -> None:
        """toolCalls:record, fire and forget. Posting started and then succeeded with the same
        `tool_call_id` is safe: the thread's posts arrive in order."""
        args = tool_call_args(
            thread_id, tool_name, input, output, status, tool_call_id, duration_ms
        )
        await self._client.post("toolCalls:record", args)

    async def list(
        self, thread_id: str, *, num_items: int | None = None, cursor: str | None = None
    ) -> Documents | Page:
        """toolCalls:list. Without `num_items`: every call in order of arrival. With it: one
        page, newest first."""
        args = compact(threadId=thread_id, paginationOpts=pagination(num_items, cursor))
        return await self._client.query("toolCalls:list", args)


class AsyncApprovals(_Resource):
    async def create(
        self,
        thread_id: str,
        plan_content: str,
        *,
        artifact_id: str | None = None,
        planned_tool_calls: Sequence[PlannedToolCall] | None = None,
        timeout_ms: int | None = None,
        required_approvals: int | None = None,
    ) -> str:
        """approvalRequests:create. Asks a person to approve a plan; returns the request's id
        (status pending). Reviewers decide at /approvals/{id} in the console. With
        `artifact_id` (the plan artifact), the decision also sets that artifact's status.
        `planned_tool_calls` (at most 200 `{"toolName": ..., "input"?: ...}`) is what the plan
        will run: once approved, each tool call recorded in the thread that is not listed (by
        name, and by input where one is given) is stored with `outsidePlan: true`.
        `timeout_ms` (1000 to 2592000000): the deadline; still pending then, the request becomes
        `expired`. `required_approvals` (1 to 5, default 1): that many different people must
        approve; a rejection or a request for changes by anyone decides at once."""
        args = compact(
            threadId=thread_id,
            planContent=plan_content,
            artifactId=artifact_id,
            plannedToolCalls=None if planned_tool_calls is None else list(planned_tool_calls),
            timeoutMs=timeout_ms,
            requiredApprovals=required_approvals,
        )
        return await self._client.mutation("approvalRequests:create", args)

    async def get(self, request_id: str, *, wait_ms: float | None = None) -> Document | None:
        """approvalRequests:get. The request, or None. With `wait_ms` the server holds the call
        until the request is no longer pending or `wait_ms` passes (at most 60000)."""
        wait_ms = None if wait_ms is None else min(float(wait_ms), MAX_WAIT_SECONDS * 1000)
        args = compact(approvalRequestId=request_id, waitMs=wait_ms)
        wait_seconds = (wait_ms or 0) / 1000
        return await self._client.query("approvalRequests:get", args, wait_seconds=wait_seconds)

    async def wait(self, request_id: str, *, timeout: float | None = None) -> Document:
        """Wait until the request is decided, cancelled or expired and return it: `status` says
        what happened (`expired`: its deadline passed with no decision), `comment` and
        `editedPlan` what the deciding person added, `approvals` who approved.
        After `timeout` seconds (None: no limit) returns the request still pending. Long-polls
        approvalRequests:get in chunks of at most 60 s, so it answers as soon as the decision
        is made. Raises ThreadlineError if there is no such request."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = MAX_WAIT_SECONDS if deadline is None else deadline - time.monotonic()
            chunk = max(0.0, min(remaining, MAX_WAIT_SECONDS))
            request = await self.get(request_id, wait_ms=chunk * 1000)
            if request is None:
                raise ThreadlineError(f"Approval request {request_id} not found")
            if request.get("status") != "pending":
                return request
            if deadline is not None and time.monotonic() >= deadline:
                return request

    async def list(
        self,
        *,
        status: ApprovalStatus | None = None,
        thread_id: str | None = None,
        num_items: int | None = None,
        cursor: str | None = None,
    ) -> Documents | Page:
        """approvalRequests:list. Without `num_items`: every match, oldest first. With it: one
        page, newest first."""
        args = compact(
            status=status, threadId=thread_id, paginationOpts=pagination(num_items, cursor)
        )
        return await self._client.query("approvalRequests:list", args)

    async def cancel(self, request_id: str) -> None:
        """approvalRequests:cancel. Withdraws your own pending request; an error if it was
        already decided."""
        await self._client.mutation("approvalRequests:cancel", {"approvalRequestId": request_id})

    async def claim(self, request_id: str) -> None:
        """approvalRequests:claim. "I am reviewing this" (a reviewer's or admin's session token):
        others see who is reviewing until the claim lapses, 15 minutes later; claiming again
        renews it. Refused while someone else's claim is live; it never blocks a decision."""
        await self._client.mutation("approvalRequests:claim", {"approvalRequestId": request_id})

    async def unclaim(self, request_id: str) -> None:
        """approvalRequests:unclaim. Releases your claim (an admin may release anyone's)."""
        await self._client.mutation("approvalRequests:unclaim", {"approvalRequestId": request_id})

    async def resolve(
        self,
        request_id: str,
        decision: Decision,
        *,
        comment: str | None = None,
        edited_plan: str | None = None,
        artifact_version: int | None = None,
    ) -> None:
        """approvalRequests:resolve. A person's decision: needs a reviewer's or admin's session
        token as the client's credential (API keys are refused). The first decision stands;
        `edited_plan` with approved (the plan that will run) or changes_requested (a suggested
        revision), never with rejected. `artifact_version`: the version of the linked artifact
        the reviewer saw; refused if the artifact has moved on since."""
        args = compact(
            approvalRequestId=request_id,
            decision=decision,
            comment=comment,
            editedPlan=edited_plan,
            artifactVersion=artifact_version,
        )
        await self._client.mutation("approvalRequests:resolve", args)
