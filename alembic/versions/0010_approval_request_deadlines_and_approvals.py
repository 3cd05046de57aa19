"""approval requests: deadlines (timeoutMs) and the two-person rule (requiredApprovals, approvals)

`expires_time` is the deadline a pending request expires at; `required_approvals` how many
different people must approve; `approvals` each approval given ({userId, decidedTime, comment?,
artifactVersion?}). Requests approved before this revision get their one approval filled in from
who decided them, so that every approved request lists its approvals.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.add_column(sa.Column("expires_time", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("required_approvals", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("approvals", JSONType, nullable=True))
        batch.create_index(
            "ix_approval_requests_status_expires",
            ["status", "expires_time", "creation_time", "id"],
        )
    _fill_approvals_of_approved_requests()


def _fill_approvals_of_approved_requests() -> None:
    table = sa.table(
        "approval_requests",
        sa.column("id", sa.String()),
        sa.column("status", sa.String()),
        sa.column("decided_by", sa.String()),
        sa.column("decided_time", sa.Float()),
        sa.column("comment", sa.String()),
        sa.column("artifact_version", sa.Integer()),
        sa.column("approvals", JSONType),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(table).where(table.c.status == "approved", table.c.decided_by.is_not(None))
    ).all()
    for row in rows:
        approval = {"userId": row.decided_by, "decidedTime": row.decided_time}
        if row.comment:
            approval["comment"] = row.comment
        if row.artifact_version is not None:
            approval["artifactVersion"] = row.artifact_version
        conn.execute(sa.update(table).where(table.c.id == row.id).values(approvals=[approval]))


def downgrade() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_index("ix_approval_requests_status_expires")
        batch.drop_column("approvals")
        batch.drop_column("required_approvals")
        batch.drop_column("expires_time")
