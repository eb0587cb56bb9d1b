"""leases and delivery claims for several replicas

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 03:54:15.538464
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    leases = sa.table("leases", sa.column("name"), sa.column("holder"), sa.column("expires_at"))
    op.bulk_insert(leases, [{"name": "poller", "holder": "", "expires_at": datetime(1970, 1, 1)}])
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column("claim_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("claim_until")
        batch_op.drop_column("claimed_by")

    op.drop_table("leases")
