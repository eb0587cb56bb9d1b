"""digests: a channel's digest, its schedule and the last period sent (issue 25)

One row per channel that has a digest: the schedule (`daily 09:00`, `weekly mon 09:00`) and its IANA
zone, the due time of the last period settled, and the claim of the replica sending the next one, so
that a period is sent once across restarts and hand-overs. `digest off` deletes the row.

A new table: the previous release's replicas never name it. The downgrade drops it and with it every
channel's digest; the channels set theirs again after the next upgrade.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("schedule", sa.String(length=32), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_due", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.String(length=100), nullable=True),
        sa.Column("claimed_due", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claim_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("team_id", "channel_id", name=op.f("pk_digests")),
    )


def downgrade() -> None:
    op.drop_table("digests")
