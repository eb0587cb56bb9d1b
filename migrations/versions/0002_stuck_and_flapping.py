"""stuck and flapping state, per-subscription stuck threshold

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 03:47:18.456866
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stuck_announced", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("flapping_since", sa.DateTime(), nullable=True))

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stuck_after", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("stuck_after")

    with op.batch_alter_table("snapshots", schema=None) as batch_op:
        batch_op.drop_column("flapping_since")
        batch_op.drop_column("stuck_announced")
