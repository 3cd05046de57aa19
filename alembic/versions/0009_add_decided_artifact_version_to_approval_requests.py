"""record the artifact version an approval request was decided on

approvalRequests:resolve takes the version of the plan artifact the reviewer saw and refuses the
decision when the artifact has moved past it; the decided request keeps that version.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.add_column(sa.Column("artifact_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_column("artifact_version")
