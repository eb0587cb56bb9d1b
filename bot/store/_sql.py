"""SQL helpers the store modules share: the clock type, rowcounts, INSERT … ON CONFLICT DO NOTHING."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store import tables as t

T = TypeVar("T")

Now = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def rowcount(result: object) -> int:
    """Rows an UPDATE or DELETE touched (0 where the driver does not say)."""
    return max(0, int(getattr(result, "rowcount", 0) or 0))


async def insert_ignore(session: AsyncSession, table: type[t.Base], rows: list[dict[str, Any]]) -> int:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns the rows inserted.

    One statement per 500 rows (each row with the same columns): a transaction that
    waits on a round trip per row holds its connection, and on SQLite the write lock,
    that much longer."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    key = next(iter(table.__table__.primary_key))
    inserted = 0
    for start in range(0, len(rows), 500):
        # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT DO NOTHING
        statement = insert(table).values(rows[start : start + 500]).on_conflict_do_nothing().returning(key)
        inserted += len((await session.execute(statement)).all())
    return inserted


def chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
