"""approval requests: planned tool calls and claims; tool calls: outsidePlan flags

approvalRequests:create takes plannedToolCalls; toolCalls:record checks each new call against
the thread's latest approved request with a plan (one seek in a partial index of such requests)
and stores outside_plan and the approval_request_id it was checked against. Flagged calls have
partial indexes of their own (the approval page's list, the dashboard's count).
approvalRequests:claim / unclaim keep claimed_by and claimed_time.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPROVED_WITH_PLAN = "status = 'approved' AND planned_tool_calls IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.add_column(
            sa.Column(
                "planned_tool_calls",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch.add_column(
            sa.Column("claimed_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True)
        )
        batch.add_column(sa.Column("claimed_time", sa.Float(), nullable=True))
    op.create_index(
        "ix_approval_requests_thread_approved_plan",
        "approval_requests",
        ["thread_id", "decided_time"],
        sqlite_where=sa.text(APPROVED_WITH_PLAN),
        postgresql_where=sa.text(APPROVED_WITH_PLAN),
    )
    with op.batch_alter_table("tool_calls") as batch:
        batch.add_column(sa.Column("outside_plan", sa.Boolean(), nullable=True))
        batch.add_column(
            sa.Column(
                "approval_request_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True
            )
        )
    op.create_index(
        "ix_tool_calls_outside_plan_request",
        "tool_calls",
        ["approval_request_id", "creation_time"],
        sqlite_where=sa.text("outside_plan = 1"),
        postgresql_where=sa.text("outside_plan"),
    )
    op.create_index(
        "ix_tool_calls_outside_plan_creation",
        "tool_calls",
        ["creation_time"],
        sqlite_where=sa.text("outside_plan = 1"),
        postgresql_where=sa.text("outside_plan"),
    )


def downgrade() -> None:
    op.drop_index("ix_tool_calls_outside_plan_creation", table_name="tool_calls")
    op.drop_index("ix_tool_calls_outside_plan_request", table_name="tool_calls")
    with op.batch_alter_table("tool_calls") as batch:
        batch.drop_column("approval_request_id")
        batch.drop_column("outside_plan")
    op.drop_index("ix_approval_requests_thread_approved_plan", table_name="approval_requests")
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_column("claimed_time")
        batch.drop_column("claimed_by")
        batch.drop_column("planned_tool_calls")
