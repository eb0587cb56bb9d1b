"""notice_groups: a burst of notices for one channel sent as one message (issue 26)

More than GROUP_OVER notices for a channel within GROUP_WAIT_SECONDS go out as one message that
counts them by kind; each of its deliveries still posts its own line in its deployment's thread.
`notice_groups` is that message: posted once (claimed like a delivery), its ts kept so that a
restart in the middle of the lines posts the rest under it and never the message again.
`deliveries.group_id` names the group a delivery belongs to (NULL: sent on its own); a plain
indexed integer, not a foreign key, so that SQLite adds it in place (`recreate="never"`).

Safe for a rolling upgrade from a release at 0017: a new table and a nullable column the previous
release never names. The downgrade drops them; a group half sent is finished as single notices.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claim_until", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_groups")),
    )
    with op.batch_alter_table("deliveries", recreate="never") as batch:
        batch.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_deliveries_group_id"), "deliveries", ["group_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_deliveries_group_id"), table_name="deliveries")
    with op.batch_alter_table("deliveries", recreate="never") as batch:
        batch.drop_column("group_id")
    op.drop_table("notice_groups")
