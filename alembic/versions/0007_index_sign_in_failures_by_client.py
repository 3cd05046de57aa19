"""index the audit log by client address

The sign-in throttle counts a client's recent failures on all accounts (api/services/signin.py); without
an index on the client (the entry's actor label) that read scans every failure of the last day,
which a distributed attacker can make large.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_log_actor_label_creation", "audit_log", ["actor_label", "creation_time"]
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_actor_label_creation", table_name="audit_log")
