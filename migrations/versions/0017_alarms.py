"""alarms and reminders: acknowledging failure notices and reminding until fixed (issue 26)

`alarms`: one row per failure notice sent to a channel (keyed by its delivery): what failed,
where the notice is (ts, thread_ts), who acknowledged it and when, how many reminders went, and
when and why it ended (recovered, acknowledged, superseded by a newer failure notice, …).
`subscriptions.remind_seconds` and `remind_max`: `--remind DURATION [--remind-max N]`; NULL: no
reminders (remind_max NULL: the default, 8).

Safe for a rolling upgrade from a release at 0016: a new table the previous release never names,
and two nullable columns with no default added in place (`recreate="never"`, never a table copy:
migration 0012 says why). The downgrade drops them: reminder settings and acknowledgements go.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions", recreate="never") as batch:
        batch.add_column(sa.Column("remind_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("remind_max", sa.Integer(), nullable=True))
    op.create_table(
        "alarms",
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.Column("acked_by", sa.String(length=32), nullable=True),
        sa.Column("acked_at", sa.DateTime(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_why", sa.String(length=32), nullable=True),
        sa.Column("now_status", sa.String(length=64), nullable=True),
        sa.Column("edited", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["deliveries.id"], name=op.f("fk_alarms_delivery_id_deliveries"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_alarms_subscription_id_subscriptions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_alarms")),
    )
    op.create_index(
        op.f("ix_alarms_team_id_channel_id_deployment_id"), "alarms", ["team_id", "channel_id", "deployment_id"]
    )
    op.create_index(op.f("ix_alarms_ended_at"), "alarms", ["ended_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_alarms_ended_at"), table_name="alarms")
    op.drop_index(op.f("ix_alarms_team_id_channel_id_deployment_id"), table_name="alarms")
    op.drop_table("alarms")
    with op.batch_alter_table("subscriptions", recreate="never") as batch:
        batch.drop_column("remind_max")
        batch.drop_column("remind_seconds")
