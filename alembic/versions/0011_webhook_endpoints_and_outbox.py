"""webhook endpoints, the notification outbox and its delivery log

`webhook_endpoints`: the URLs admins register (format, event filter, signing secret).
`webhook_deliveries`: one row per endpoint and event, written in the transaction of the change
it reports; the sender posts it until it is delivered or 24 hours have passed, and the row keeps
status, attempts, the last error and the next try for the delivery log.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _string(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", _string(40), nullable=False),
        sa.Column("creation_time", sa.Float(), nullable=False),
        sa.Column("url", _string(2000), nullable=False),
        sa.Column("format", _string(20), nullable=False),
        sa.Column("events", JSON, nullable=True),
        sa.Column("description", _string(200), nullable=True),
        sa.Column("secret", _string(100), nullable=False),
        sa.Column("created_by", _string(60), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", _string(40), nullable=False),
        sa.Column("creation_time", sa.Float(), nullable=False),
        sa.Column("endpoint_id", _string(40), nullable=False),
        sa.Column("event_type", _string(60), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", _string(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_time", sa.Float(), nullable=True),
        sa.Column("last_attempt_time", sa.Float(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", _string(500), nullable=True),
        sa.Column("delivered_time", sa.Float(), nullable=True),
        sa.Column("data", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_deliveries_due", ["status", "next_attempt_time"], unique=False
        )
        batch_op.create_index(
            "ix_webhook_deliveries_endpoint", ["endpoint_id", "creation_time"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_endpoint")
        batch_op.drop_index("ix_webhook_deliveries_due")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
