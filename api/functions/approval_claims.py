"""approvalRequests:claim, approvalRequests:unclaim: "I am reviewing this".

A claim is advisory. Others see "<name> is reviewing" in the inbox and on the request's page, and
the console asks them to confirm before they decide; the API still takes their decision. A claim
lapses CLAIM_LAPSE_MS (15 minutes) after it was made; claiming again renews it. Reads work out
whether a claim is live (api/claims.py), so nothing has to clear a stale one.

Claims are not audited: the audit log records changes of decisions, accounts and rights, and a
claim changes none of these (the decision that follows is audited, with who made it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.claims import CLAIM_LAPSE_MS, claim_is_live
from api.errors import FunctionError, NotAllowed
from api.functions._common import Id
from api.registry import DECIDERS, NULL, Args, Context, mutation
from api.vocabulary import ADMIN, APPROVALS_CHANGED, PENDING
from models import ApprovalRequest, User

requests = ApprovalRequest.__table__
users = User.__table__


class ClaimArgs(Args):
    approvalRequestId: Id


def _person(ctx: Context, action: str) -> str:
    """The calling reviewer's or admin's user id: claims are made by people."""
    ctx.require_role(DECIDERS, action)
    if ctx.caller.kind != "user":
        raise NotAllowed(f"Not allowed: only a signed-in reviewer or admin may {action}")
    return ctx.caller.id


def _load(ctx: Context, request_id: str) -> Any:
    row = ctx.conn.execute(
        sa.select(
            requests.c.id,
            requests.c.thread_id,
            requests.c.status,
            requests.c.claimed_by,
            requests.c.claimed_time,
        ).where(requests.c.id == request_id)
    ).first()
    if row is None:
        raise FunctionError(f"Approval request {request_id} not found")
    return row


def _name(ctx: Context, user_id: str) -> str:
    name = ctx.conn.execute(sa.select(users.c.name).where(users.c.id == user_id)).scalar()
    return name or user_id


def _changed(ctx: Context, row: Any, claimed_by: str | None) -> None:
    # The inbox and the request's page follow approvals:changed (the live queue); the request's
    # own topic is left alone, so that a long-poll waiting for the decision is not woken.
    ctx.emit(
        APPROVALS_CHANGED,
        {
            "approvalRequestId": row.id,
            "threadId": row.thread_id,
            "status": row.status,
            "claimedBy": claimed_by,
        },
    )


@mutation("approvalRequests:claim", args=ClaimArgs, returns=NULL, allow=DECIDERS)
def claim(ctx: Context, args: ClaimArgs) -> None:
    """Marks a pending request as being reviewed by the caller (a reviewer or admin): the
    document shows `claimedBy` / `claimedTime` until the claim lapses, 15 minutes later.
    Claiming your own claim again renews it. While someone else's claim is live, claiming is
    refused, naming them; deciding is not (a claim never blocks a decision)."""
    me = _person(ctx, "claim approval requests")
    request_id = ctx.require_id("approval_requests", args.approvalRequestId, "approvalRequestId")
    lapsed = ctx.now - CLAIM_LAPSE_MS
    claimed = ctx.conn.execute(
        sa.update(requests)
        .where(
            requests.c.id == request_id,
            requests.c.status == PENDING,
            sa.or_(
                requests.c.claimed_by.is_(None),
                requests.c.claimed_by == me,
                requests.c.claimed_time <= lapsed,
            ),
        )
        .values(claimed_by=me, claimed_time=ctx.now)
        .returning(requests.c.id, requests.c.thread_id, requests.c.status)
    ).first()
    if claimed is not None:
        _changed(ctx, claimed, me)
        return None
    row = _load(ctx, request_id)
    if row.status != PENDING:
        raise FunctionError(
            f"Approval request {request_id} is already {row.status}; only a pending request "
            "can be claimed",
            {"status": row.status},
        )
    minutes_left = max(1, round((row.claimed_time + CLAIM_LAPSE_MS - ctx.now) / 60_000))
    raise FunctionError(
        f"{_name(ctx, row.claimed_by)} is already reviewing approval request {request_id}; "
        f"their claim lapses in {minutes_left} min (you may still decide it)",
        {"claimedBy": row.claimed_by, "claimedTime": row.claimed_time},
    )


@mutation("approvalRequests:unclaim", args=ClaimArgs, returns=NULL, allow=DECIDERS)
def unclaim(ctx: Context, args: ClaimArgs) -> None:
    """Releases the caller's claim. An admin may release anyone's; a reviewer only their own.
    Nothing to release (no live claim, or the request is decided) is not an error."""
    me = _person(ctx, "unclaim approval requests")
    request_id = ctx.require_id("approval_requests", args.approvalRequestId, "approvalRequestId")
    row = _load(ctx, request_id)
    if not claim_is_live(row.status, row.claimed_by, row.claimed_time, ctx.now):
        return None
    if row.claimed_by != me and ctx.caller.role != ADMIN:
        raise NotAllowed(
            f"Not allowed: {_name(ctx, row.claimed_by)} is reviewing approval request "
            f"{request_id}; only they or an admin may release the claim"
        )
    released = ctx.conn.execute(
        sa.update(requests)
        .where(requests.c.id == request_id, requests.c.claimed_by == row.claimed_by)
        .values(claimed_by=None, claimed_time=None)
    )
    if released.rowcount == 1:
        _changed(ctx, row, None)
    return None
