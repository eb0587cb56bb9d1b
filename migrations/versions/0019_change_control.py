"""freezes, approvals, actions.override and actions.approval_id: change control (issue 27)

`freezes` keeps each freeze (`/baseten freeze`), one-off or weekly, and when and by whom it was
lifted; `approvals` each request for a second operator's approval (APPROVAL_REQUIRED), its message
and how it ended. `actions.override` records the freeze an admin's `--override` acted through, and
`actions.approval_id` the approval request an action ran for.

Safe for a rolling upgrade from a release at 0018: two new tables and two nullable columns the
previous release never names (its INSERTs leave them NULL, its SELECTs name their own columns).
The columns are added and dropped in place (`recreate="never"`: on SQLite a table copy of
`actions` is never wanted, see 0013). The downgrade drops them and with them the record of
freezes and approvals.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "freezes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("model_name", sa.String(length=255), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("weekly", sa.String(length=40), nullable=True),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_by", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freezes")),
    )
    op.create_index(op.f("ix_freezes_ended_at"), "freezes", ["ended_at"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("verb", sa.String(length=32), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column("environment", sa.String(length=64), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("action_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    op.create_index(op.f("ix_approvals_state_expires_at"), "approvals", ["state", "expires_at"])
    with op.batch_alter_table("actions", recreate="never") as batch:
        batch.add_column(sa.Column("override", sa.Text(), nullable=True))
        batch.add_column(sa.Column("approval_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("actions", recreate="never") as batch:
        batch.drop_column("approval_id")
        batch.drop_column("override")
    op.drop_index(op.f("ix_approvals_state_expires_at"), table_name="approvals")
    op.drop_table("approvals")
    op.drop_index(op.f("ix_freezes_ended_at"), table_name="freezes")
    op.drop_table("freezes")
