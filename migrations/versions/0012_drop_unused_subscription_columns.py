"""drop subscriptions.muted_until and subscriptions.last_delivered_at, unused

Nothing has read or written them since mutes moved to `mutes` (0006) and `list` took the last
delivery from deliveries.sent_at, but up to the release that brought migration 0009 the
Subscription class still mapped them, and the ORM names every mapped column: each SELECT of a
subscription listed both, each INSERT named both. Dropping them in the release that unmapped them
would have broken the old replicas still running during a rolling upgrade. So it took two releases:

1. The release that brought 0010 (and the one with 0011) keeps both columns in the table but
   out of the mapping (`exclude_properties`): it neither reads nor writes them, and nothing in
   it selects `subscriptions.*` or the Table's full column list.
2. This one drops them.

Safe for a rolling upgrade from a release at 0010 or 0011: its replicas never name the two
columns, so their statements run the same before and after the drop (on PostgreSQL their
prepared statements are re-planned with the same result columns). Not safe straight from a
release at 0009 or earlier, whose replicas select both columns and fail once they are gone:
stop those replicas before migrating, or roll through a 0010/0011 release first (README,
"Upgrading"). tests/test_migrations.py runs both releases' mappings against the dropped table.

Both drops are plain `ALTER TABLE … DROP COLUMN`, never a table copy (`recreate="never"`): on
SQLite a copy drops the old `subscriptions` table, and with foreign keys on (always, here) that
deletes every row first, which sets deliveries.subscription_id to NULL in every delivery (the
`list` command's last delivery, and the pending notices an unsubscribe withdraws). SQLite has
DROP COLUMN since 3.35, which the bot needs anyway (INSERT … RETURNING). On PostgreSQL it is a
catalogue change under a brief exclusive lock on `subscriptions`, with no rewrite.

The downgrade adds both back, nullable and empty.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("muted_until", "last_delivered_at")


def upgrade() -> None:
    with op.batch_alter_table("subscriptions", recreate="never") as batch:
        for name in COLUMNS:
            batch.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", recreate="never") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.DateTime(), nullable=True))
