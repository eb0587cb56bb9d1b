"""revisions: a counter every subscription or mute write moves, so the poll loop re-reads watchers only then

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 21:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    revisions = op.create_table(
        "revisions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(revisions, [{"name": "watchers", "value": 0}])


def downgrade() -> None:
    op.drop_table("revisions")
