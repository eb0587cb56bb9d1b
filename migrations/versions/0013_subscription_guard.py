"""subscriptions.guard: a subscription's promotion guard (`--guard SPEC`, issue 24)

The spec as bot.domain.guard.describe says it (`5xx:1%,p95:2x,min:50,auto-pause`, `off`), on a
subscription to an environment or `production`; NULL is the default spec, and every existing
subscription starts with it.

Safe for a rolling upgrade from a release at 0012: a nullable column with no default is a
catalogue change (PostgreSQL: no rewrite, a brief exclusive lock on `subscriptions`; SQLite: a
plain ADD COLUMN), and the previous release's replicas never name it: their INSERTs leave it NULL
(the default guard) and their SELECTs name their own columns. A subscription the previous release
changes keeps its guard: it updates only the columns it changed.

Both directions are plain `ALTER TABLE`, never a table copy (`recreate="never"`): on SQLite a copy
drops the old `subscriptions` table, which with foreign keys on would set every delivery's
subscription_id to NULL (migration 0012 says more). The downgrade drops the column and with it
every guard set; those subscriptions go back to the default.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions", recreate="never") as batch:
        batch.add_column(sa.Column("guard", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", recreate="never") as batch:
        batch.drop_column("guard")
