"""actions.card_id: the confirmation card a click confirmed, unique, so one card acts once at any time

Safe for a rolling upgrade: a nullable column and a unique index on it. Replicas still on 0009
insert rows without it (NULL, which the unique index allows any number of times) and keep
working as before; replicas on 0010 claim a card by inserting its id.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("actions", sa.Column("card_id", sa.String(length=32), nullable=True))
    op.create_index(op.f("ix_actions_card_id"), "actions", ["card_id"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_actions_card_id"), table_name="actions")
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("card_id")
