"""indexes for thread lookups and recent changes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 05:05:35.265921
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deliveries_team_id_channel_id_thread_ts"),
            ["team_id", "channel_id", "thread_ts"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_deliveries_team_id_channel_id_ts"), ["team_id", "channel_id", "ts"], unique=False
        )

    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transitions_deployment_id_detected_at"), ["deployment_id", "detected_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transitions_deployment_id_detected_at"))

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_team_id_channel_id_ts"))
        batch_op.drop_index(batch_op.f("ix_deliveries_team_id_channel_id_thread_ts"))
