"""mutes per channel and model: a mute reaches every subscription of the model in the channel

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 15:00:56.157894
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mutes",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("target_name", sa.String(length=255), nullable=False),
        sa.Column("until", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "channel_id", "model_id", "target", name=op.f("pk_mutes")),
    )
    # a subscription's mute becomes the channel's mute of the same target (unique per channel already)
    op.execute(
        "INSERT INTO mutes (team_id, channel_id, model_id, target, target_name, until, created_by) "
        "SELECT team_id, channel_id, model_id, target, target_name, muted_until, '' "
        "FROM subscriptions WHERE muted_until IS NOT NULL"
    )


def downgrade() -> None:
    # back onto the subscriptions they cover: the longest of the model-wide and the same-target mute
    op.execute(
        "UPDATE subscriptions SET muted_until = ("
        "SELECT MAX(m.until) FROM mutes m WHERE m.team_id = subscriptions.team_id "
        "AND m.channel_id = subscriptions.channel_id AND m.model_id = subscriptions.model_id "
        "AND m.target IN ('*', subscriptions.target))"
    )
    op.drop_table("mutes")
