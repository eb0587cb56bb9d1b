"""idle_spells: deployments announced idle, once per idle spell (issue 25)

One row per deployment whose replicas were up with (almost) no requests for IDLE_AFTER_MINUTES and
was announced so; the row goes when the spell ends, so the next spell is announced again.

A new table: the previous release's replicas never name it. The downgrade drops it: a spell under
way may be announced once more after the next upgrade.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idle_spells",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("announced_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "deployment_id", name=op.f("pk_idle_spells")),
    )


def downgrade() -> None:
    op.drop_table("idle_spells")
