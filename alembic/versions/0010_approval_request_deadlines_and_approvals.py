"""approval requests: deadlines (timeoutMs) and the two-person rule (requiredApprovals, approvals)

Reserved in the chain so that work on these features can land in any order; the upgrade is
filled in by the change that adds the tables and columns.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
