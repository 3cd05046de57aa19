"""approvalRequests:create/get/list/resolve/cancel: human-in-the-loop decisions on plans."""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from pydantic import Field

from api.errors import FunctionError
from api.functions import artifacts as artifact_functions
from api.functions._common import (
    Id,
    Page,
    PaginationOpts,
    Text,
    all_rows,
    audit,
    document,
    document_model,
    page,
)
from api.notifications import notify
from api.registry import BACKEND_WRITERS, DECIDERS, NULL, Args, Context, mutation, query
from models import ApprovalRequest, Artifact, User
from models.ids import is_id_for, new_id

requests = ApprovalRequest.__table__
artifacts = Artifact.__table__
users = User.__table__

RequestStatus = Literal[
    "pending", "approved", "rejected", "changes_requested", "cancelled", "expired"
]
Decision = Literal["approved", "rejected", "changes_requested"]
ApprovalRequestDoc = document_model(ApprovalRequest, "ApprovalRequest", status=RequestStatus)
MAX_WAIT_MS = 60_000
# What an approved plan's artifact becomes; a request for changes sends it back to draft.
ARTIFACT_STATUS_AFTER = {
    "approved": "approved",
    "rejected": "rejected",
    "changes_requested": "draft",
}


def _changed(ctx: Context, request_id: str, thread_id: str, status: str) -> None:
    payload = {"approvalRequestId": request_id, "threadId": thread_id, "status": status}
    ctx.emit(f"approval:{request_id}", payload)
    ctx.emit("approvals:changed", payload)


def _notify(
    ctx: Context, event: str, request_id: str, thread_id: str, status: str, **extra: Any
) -> None:
    """Webhooks, in this transaction: the outbox rows commit (or roll back) with the change."""
    data = {"approvalRequestId": request_id, "threadId": thread_id, "status": status, **extra}
    notify(ctx.conn, event, data, f"/approvals/{request_id}")


class CreateArgs(Args):
    threadId: Id
    planContent: Text
    artifactId: Id | None = None


@mutation("approvalRequests:create", args=CreateArgs, returns=str, allow=BACKEND_WRITERS)
def create(ctx: Context, args: CreateArgs) -> str:
    """Asks people to decide on a plan; answers the request's id (status `pending`)."""
    ctx.thread(args.threadId)
    if args.artifactId is not None:
        artifact = artifact_functions.load(ctx, args.artifactId)
        if artifact.thread_id != args.threadId:
            raise FunctionError(f"artifactId: artifact {args.artifactId} belongs to another thread")
    request_id = new_id("approval_requests")
    ctx.conn.execute(
        sa.insert(requests).values(
            id=request_id,
            creation_time=ctx.now,
            thread_id=args.threadId,
            plan_content=args.planContent,
            artifact_id=args.artifactId,
            status="pending",
        )
    )
    _changed(ctx, request_id, args.threadId, "pending")
    _notify(ctx, "approval.requested", request_id, args.threadId, "pending")
    return request_id


class GetArgs(Args):
    approvalRequestId: Id
    waitMs: float | None = Field(default=None, ge=0)


def _visible(ctx: Context, request_id: str) -> Any | None:
    if not is_id_for("approval_requests", request_id):
        return None
    row = ctx.conn.execute(sa.select(requests).where(requests.c.id == request_id)).first()
    if row is None or ctx.visible_thread(row.thread_id) is None:
        return None
    return row


def _wait(args: GetArgs):
    seconds = min(args.waitMs or 0, MAX_WAIT_MS) / 1000.0

    def settled(result: dict[str, Any] | None) -> bool:
        return result is None or result["status"] != "pending"

    return f"approval:{args.approvalRequestId}", seconds, settled


@query("approvalRequests:get", args=GetArgs, returns=ApprovalRequestDoc | None, wait=_wait)
def get(ctx: Context, args: GetArgs) -> dict[str, Any] | None:
    """The request or null. With `waitMs` (at most 60000), answers once it is no longer pending
    or `waitMs` has passed."""
    row = _visible(ctx, args.approvalRequestId)
    return None if row is None else document(ApprovalRequest, row)


class ListArgs(Args):
    status: RequestStatus | None = None
    threadId: Id | None = None
    paginationOpts: PaginationOpts | None = None
    order: Literal["asc", "desc"] | None = None


@query(
    "approvalRequests:list",
    args=ListArgs,
    returns=list[ApprovalRequestDoc] | Page[ApprovalRequestDoc],
)
def list_requests(ctx: Context, args: ListArgs) -> list[dict[str, Any]] | dict[str, Any]:
    """Without paginationOpts: an array, oldest first. With it: a page, newest first.
    `order` overrides either (the inbox pages through pending requests oldest first)."""
    where = []
    if args.status is not None:
        where.append(requests.c.status == args.status)
    if args.threadId is not None:
        where.append(requests.c.thread_id == args.threadId)
    own = ctx.own_threads_filter(requests.c.thread_id)
    if own is not None:
        where.append(own)
    if args.paginationOpts is not None:
        descending = args.order != "asc"
        return page(
            ctx, ApprovalRequest, where, args.paginationOpts, requests.c.creation_time, descending
        )
    order = [requests.c.creation_time, requests.c.id]
    if args.order == "desc":
        order = [column.desc() for column in order]
    return all_rows(ctx, ApprovalRequest, where, order, "approval requests")


class ResolveArgs(Args):
    approvalRequestId: Id
    decision: Decision
    comment: Text | None = None
    editedPlan: Text | None = None
    # The version of the linked artifact the reviewer saw (the console always sends it).
    artifactVersion: int | None = Field(default=None, ge=1, le=2**31 - 1)


@mutation("approvalRequests:resolve", args=ResolveArgs, returns=NULL, allow=DECIDERS)
def resolve(ctx: Context, args: ResolveArgs) -> None:
    """Records a person's decision. Only a pending request can be decided; the first decision
    stands (the conditional UPDATE makes that hold between concurrent reviewers and workers).
    `artifactVersion` is the version of the linked artifact the reviewer saw: if the artifact has
    moved on since, the decision is refused, naming both versions. The decided request records
    the version it was decided on (`artifactVersion`)."""
    request_id = ctx.require_id("approval_requests", args.approvalRequestId, "approvalRequestId")
    if args.editedPlan is not None and args.decision == "rejected":
        raise FunctionError(
            "editedPlan cannot be given with the decision 'rejected': send it with 'approved' "
            "(the plan that will run) or 'changes_requested' (a suggested revision)"
        )
    comment = (args.comment or "").strip() or None
    decided_version = _check_seen_version(ctx, request_id, args.artifactVersion)
    decided = ctx.conn.execute(
        sa.update(requests)
        .where(requests.c.id == request_id, requests.c.status == "pending")
        .values(
            status=args.decision,
            decided_by=ctx.caller.id,
            decided_time=ctx.now,
            comment=comment,
            edited_plan=args.editedPlan,
            artifact_version=decided_version,
        )
        .returning(requests.c.thread_id, requests.c.artifact_id)
    ).first()
    if decided is None:
        raise _not_pending(ctx, request_id)
    if decided.artifact_id is not None:
        _update_plan_artifact(ctx, decided.artifact_id, args)
    audit(
        ctx,
        "approval.decide",
        request_id,
        {
            "before": "pending",
            "after": args.decision,
            "comment": comment,
            "edited": args.editedPlan is not None,
        },
    )
    _changed(ctx, request_id, decided.thread_id, args.decision)
    _notify(
        ctx,
        "approval.decided",
        request_id,
        decided.thread_id,
        args.decision,
        decidedBy=ctx.caller.id,
    )


def _check_seen_version(ctx: Context, request_id: str, seen: int | None) -> int | None:
    """The linked artifact's current version, which the decision is recorded on; refuses the
    decision when the reviewer saw another version (the plan changed while they read it).
    The artifact's row is locked (PostgreSQL) so that no new version lands in between."""
    row = ctx.conn.execute(
        sa.select(requests.c.artifact_id, requests.c.status).where(requests.c.id == request_id)
    ).first()
    if row is None or row.status != "pending":
        return None  # the conditional UPDATE answers "not found" / "already decided"
    if row.artifact_id is None:
        if seen is not None:
            raise FunctionError(
                f"artifactVersion: approval request {request_id} has no linked artifact"
            )
        return None
    current = ctx.conn.execute(
        sa.select(artifacts.c.version).where(artifacts.c.id == row.artifact_id).with_for_update()
    ).scalar()
    if current is None:
        return None
    if seen is not None and seen != current:
        moved = "has moved on to" if current > seen else "is at"
        raise FunctionError(
            f"The plan changed while you reviewed it: artifact {row.artifact_id} {moved} "
            f"version {current}, you saw version {seen}. Look at what changed and decide again.",
            {"artifactVersion": current, "seenVersion": seen},
        )
    return current


def _update_plan_artifact(ctx: Context, artifact_id: str, args: ResolveArgs) -> None:
    current = ctx.conn.execute(sa.select(artifacts).where(artifacts.c.id == artifact_id)).first()
    if current is None:
        return
    status = ARTIFACT_STATUS_AFTER[args.decision]
    changes: dict[str, Any] = {"status": status, "updated_time": ctx.now}
    # An edited plan that is approved is what will run: it becomes the artifact's next version.
    # One sent with changes_requested is a suggestion, kept on the request (editedPlan) only.
    approved_edit = args.decision == "approved" and args.editedPlan is not None
    if approved_edit and args.editedPlan != current.content:
        changes["content"] = args.editedPlan
        changes["version"] = current.version + 1
        artifact_functions._add_version(
            ctx, artifact_id, current.version + 1, args.editedPlan, status
        )
    ctx.conn.execute(sa.update(artifacts).where(artifacts.c.id == artifact_id).values(changes))
    ctx.emit("artifacts:changed", {"artifactId": artifact_id, "threadId": current.thread_id})


def _not_pending(ctx: Context, request_id: str) -> FunctionError:
    row = _visible(ctx, request_id)
    if row is None:
        return FunctionError(f"Approval request {request_id} not found")
    who = ""
    if row.decided_by:
        name = ctx.conn.execute(
            sa.select(users.c.name).where(users.c.id == row.decided_by)
        ).scalar()
        who = f" by {name or row.decided_by}"
    return FunctionError(
        f"Approval request {request_id} is already {row.status}{who}; the first decision stands",
        {"status": row.status, "decidedBy": row.decided_by},
    )


class CancelArgs(Args):
    approvalRequestId: Id


@mutation("approvalRequests:cancel", args=CancelArgs, returns=NULL, allow=BACKEND_WRITERS)
def cancel(ctx: Context, args: CancelArgs) -> None:
    """The backend withdraws its own pending request."""
    request_id = ctx.require_id("approval_requests", args.approvalRequestId, "approvalRequestId")
    row = _visible(ctx, request_id)
    if row is None:
        raise FunctionError(f"Approval request {request_id} not found")
    cancelled = ctx.conn.execute(
        sa.update(requests)
        .where(requests.c.id == request_id, requests.c.status == "pending")
        .values(status="cancelled", decided_time=ctx.now)
    )
    if cancelled.rowcount != 1:
        raise _not_pending(ctx, request_id)
    _changed(ctx, request_id, row.thread_id, "cancelled")
    _notify(ctx, "approval.decided", request_id, row.thread_id, "cancelled")
