"""snapshots.parts: a chain deployment's chainlets as last seen, to name each one whose status changed

Safe for a rolling upgrade: one nullable column. Replicas still on 0010 neither read nor write
it (they watch no chains: a `chain:` key is not an id they would send to Baseten).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("snapshots", sa.Column("parts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_column("parts")
