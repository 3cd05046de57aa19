"""webhook endpoints, the notification outbox and its delivery log

Reserved in the chain so that work on these features can land in any order; the upgrade is
filled in by the change that adds the tables and columns.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
