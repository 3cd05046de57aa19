"""index sign-in failures by account and by client, with the action

The throttle's reads are `action = 'signin.failure' AND target = ? AND creation_time > ?` (and
the same with the client, `actor_label`). With only (target, creation_time) and (actor_label,
creation_time), SQLite chose (action, creation_time) and read every failure of the day: about
1 s per sign-in at 200,000 failures. Indexes that hold the action beside the account or client
make each read a short range scan. Replaces 0007's index.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_audit_log_actor_label_creation", table_name="audit_log")
    op.create_index(
        "ix_audit_log_actor_label_action_creation",
        "audit_log",
        ["actor_label", "action", "creation_time"],
    )
    op.create_index(
        "ix_audit_log_target_action_creation", "audit_log", ["target", "action", "creation_time"]
    )


def downgrade() -> None:
    op.drop_index("ix_audit_log_target_action_creation", table_name="audit_log")
    op.drop_index("ix_audit_log_actor_label_action_creation", table_name="audit_log")
    op.create_index(
        "ix_audit_log_actor_label_creation", "audit_log", ["actor_label", "creation_time"]
    )
