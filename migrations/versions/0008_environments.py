"""environment states and promotion messages: one live message per promotion per channel

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "environment_states",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("current_deployment_id", sa.String(length=64), nullable=True),
        sa.Column("current_deployment_name", sa.String(length=255), nullable=False),
        sa.Column("candidate_deployment_id", sa.String(length=64), nullable=True),
        sa.Column("candidate_deployment_name", sa.String(length=255), nullable=False),
        sa.Column("promotion_status", sa.String(length=64), nullable=True),
        sa.Column("traffic_percent", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("promotion_key", sa.String(length=200), nullable=True),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("model_id", "name", name=op.f("pk_environment_states")),
    )
    op.create_table(
        "promotion_messages",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("promotion_key", sa.String(length=200), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("candidate_deployment_id", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("started_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "channel_id", "promotion_key", name=op.f("pk_promotion_messages")),
    )
    with op.batch_alter_table("promotion_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_promotion_messages_candidate",
            ["team_id", "channel_id", "model_id", "candidate_deployment_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("promotion_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_promotion_messages_candidate")
    op.drop_table("promotion_messages")
    op.drop_table("environment_states")
