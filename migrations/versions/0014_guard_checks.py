"""guard_checks: the promotion guard's latest reading of each comparison (issue 24)

One row per promotion the guard compares while it runs (phase `rollout`, keyed by the promotion's
key) and per promotion it compares after it succeeded (phase `after`): the two deployments, the
windows last read, the specs whose failing verdict was announced, and the guard's own pause.

A new table: the previous release's replicas never name it. The downgrade drops it and with it
what the guard had read and announced; a comparison under way starts again after the next upgrade.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guard_checks",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("check_key", sa.String(length=200), nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("candidate_id", sa.String(length=64), nullable=False),
        sa.Column("candidate_name", sa.String(length=255), nullable=False),
        sa.Column("baseline_id", sa.String(length=64), nullable=False),
        sa.Column("baseline_name", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=True),
        sa.Column("candidate", sa.JSON(), nullable=True),
        sa.Column("current", sa.JSON(), nullable=True),
        sa.Column("announced", sa.Text(), nullable=False),
        sa.Column("paused_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("model_id", "environment", "check_key", name=op.f("pk_guard_checks")),
    )


def downgrade() -> None:
    op.drop_table("guard_checks")
