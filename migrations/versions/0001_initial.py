"""subscriptions, snapshots, transitions, deliveries, threads

Revision ID: 0001
Revises:
Create Date: 2026-11-27 03:22:23.902826
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_states",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("production_deployment_id", sa.String(length=64), nullable=True),
        sa.Column("development_deployment_id", sa.String(length=64), nullable=True),
        sa.Column("baseline_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_model_states")),
    )
    op.create_table(
        "snapshots",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("is_production", sa.Boolean(), nullable=True),
        sa.Column("is_development", sa.Boolean(), nullable=True),
        sa.Column("environment", sa.String(length=255), nullable=True),
        sa.Column("active_replica_count", sa.Integer(), nullable=True),
        sa.Column("instance_type_name", sa.String(length=255), nullable=True),
        sa.Column("status_since", sa.DateTime(), nullable=False),
        sa.Column("gone", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "deployment_id", name=op.f("pk_snapshots")),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("target_name", sa.String(length=255), nullable=False),
        sa.Column("kinds", sa.String(length=500), nullable=False),
        sa.Column("thread", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("paused_reason", sa.String(length=100), nullable=True),
        sa.Column("paused_at", sa.DateTime(), nullable=True),
        sa.Column("muted_until", sa.DateTime(), nullable=True),
        sa.Column("last_delivered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint(
            "team_id",
            "channel_id",
            "model_id",
            "target",
            name=op.f("uq_subscriptions_team_id_channel_id_model_id_target"),
        ),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subscriptions_model_id"), ["model_id"], unique=False)

    op.create_table(
        "threads",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "channel_id", "deployment_id", name=op.f("pk_threads")),
    )
    op.create_table(
        "transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=255), nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("deployment_name", sa.String(length=255), nullable=False),
        sa.Column("old_status", sa.String(length=64), nullable=True),
        sa.Column("new_status", sa.String(length=64), nullable=False),
        sa.Column("old_since", sa.DateTime(), nullable=True),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transitions")),
    )
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transitions_model_id_deployment_id"),
            ["model_id", "deployment_id"],
            unique=False,
        )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transition_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("thread", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_deliveries_subscription_id_subscriptions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["transition_id"],
            ["transitions.id"],
            name=op.f("fk_deliveries_transition_id_transitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "transition_id",
            "team_id",
            "channel_id",
            name=op.f("uq_deliveries_transition_id_team_id_channel_id"),
        ),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deliveries_state_next_attempt_at"),
            ["state", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_deliveries_subscription_id"), ["subscription_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deliveries_transition_id"), ["transition_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_transition_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_deliveries_state_next_attempt_at"))

    op.drop_table("deliveries")
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transitions_model_id_deployment_id"))

    op.drop_table("transitions")
    op.drop_table("threads")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_model_id"))

    op.drop_table("subscriptions")
    op.drop_table("snapshots")
    op.drop_table("model_states")
