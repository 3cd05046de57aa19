"""auditLog:* — the audit log (admins).

auditLog:list.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.functions._common import Page, PaginationOpts, ShortText, document_model, page
from api.registry import ADMINS, Args, Context, query
from models import AuditEntry

audit_log = AuditEntry.__table__
AuditEntryDoc = document_model(AuditEntry, "AuditEntry", details=dict[str, Any])


class AuditListArgs(Args):
    paginationOpts: PaginationOpts
    actor: ShortText | None = None
    action: ShortText | None = None
    target: ShortText | None = None
    since: float | None = None
    until: float | None = None


@query("auditLog:list", args=AuditListArgs, returns=Page[AuditEntryDoc], allow=ADMINS)
def list_audit(ctx: Context, args: AuditListArgs) -> dict[str, Any]:
    """Newest first. `actor` matches the actor reference or its label (e.g. an email)."""
    where = []
    if args.actor:
        where.append(sa.or_(audit_log.c.actor == args.actor, audit_log.c.actor_label == args.actor))
    if args.action:
        where.append(audit_log.c.action == args.action)
    if args.target:
        where.append(audit_log.c.target == args.target)
    if args.since is not None:
        where.append(audit_log.c.creation_time >= args.since)
    if args.until is not None:
        where.append(audit_log.c.creation_time < args.until)
    return page(ctx, AuditEntry, where, args.paginationOpts, audit_log.c.creation_time)
