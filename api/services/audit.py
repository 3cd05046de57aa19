"""The audit writer: one entry per change, in the same transaction as the change."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from api.registry import Context
from models import AuditEntry
from models.ids import new_id


def audit(
    ctx: Context,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append an audit entry in the same transaction as the change it records."""
    ctx.conn.execute(
        sa.insert(AuditEntry.__table__).values(
            id=new_id("audit_log"),
            creation_time=ctx.now,
            actor=ctx.caller.ref,
            actor_label=ctx.caller.label or None,
            action=action,
            target=target,
            details=details,
        )
    )
