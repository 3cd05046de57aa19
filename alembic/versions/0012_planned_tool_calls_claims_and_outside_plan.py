"""approval requests: planned tool calls and claims; tool calls: outsidePlan flags

Reserved in the chain so that work on these features can land in any order; the upgrade is
filled in by the change that adds the tables and columns.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
