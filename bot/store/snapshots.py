"""What the bot last saw: deployment snapshots and model states (production and development ids).

The only module that issues SQL for the `snapshots` and `model_states` tables. A new
subscription writes its first sightings through `write_baseline`, inside its own
transaction (bot.store.subscriptions); the outbox's recording transaction writes them
through `write_snapshot` and `write_model`, each conditional on what the poll read; the
poller reads them through `read_memory` (bot.store.Store.memory), and `list` through
`read_for_models`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.changes import Snap
from bot.domain.memory import ModelMemory, ModelRow
from bot.store import tables as t
from bot.store._sql import chunks, insert_ignore, rowcount


async def write_baseline(session: AsyncSession, snaps: Sequence[Snap], model: ModelRow | None, now: datetime) -> None:
    """First sightings (at subscribe time), inside the caller's transaction; what is known stays."""
    await insert_ignore(session, t.Snapshot, [_values(s) for s in snaps])
    if model is not None:
        await insert_ignore(session, t.ModelState, [_model_values(model, now)])


async def read_memory(
    session: AsyncSession, model_ids: Iterable[str]
) -> tuple[dict[str, dict[str, Snap]], dict[str, ModelMemory]]:
    """Snapshots and model states of these models. Plain rows, not ORM objects: the poll loop reads
    one model at a time, dozens a second, and building ORM objects was most of that read's cost."""
    ids = list(set(model_ids))
    snaps: dict[str, dict[str, Snap]] = defaultdict(dict)
    states: dict[str, ModelMemory] = {}
    snapshots, model_states = t.Snapshot.__table__, t.ModelState.__table__
    for chunk in chunks(ids, 500):
        for row in (await session.execute(select(snapshots).where(snapshots.c.model_id.in_(chunk)))).all():
            snaps[row.model_id][row.deployment_id] = _snap(row)
        for state in (await session.execute(select(model_states).where(model_states.c.model_id.in_(chunk)))).all():
            states[state.model_id] = ModelMemory(
                True, state.production_deployment_id, state.development_deployment_id, state.name
            )
    return snaps, states


async def read_for_models(
    session: AsyncSession, model_ids: set[str]
) -> tuple[dict[str, list[t.Snapshot]], dict[str, t.ModelState]]:
    """The snapshot rows and model states of these models, for `list`."""
    snaps = (await session.scalars(select(t.Snapshot).where(t.Snapshot.model_id.in_(model_ids)))).all()
    states = (await session.scalars(select(t.ModelState).where(t.ModelState.model_id.in_(model_ids)))).all()
    by_model: dict[str, list[t.Snapshot]] = defaultdict(list)
    for snap in snaps:
        by_model[snap.model_id].append(snap)
    return by_model, {m.model_id: m for m in states}


async def write_snapshot(session: AsyncSession, before: Snap | None, after: Snap) -> bool:
    """Writes `after` only if the row is still what this cycle read as `before`."""
    if before is None:
        return await insert_ignore(session, t.Snapshot, [_values(after)]) == 1
    result = await session.execute(
        update(t.Snapshot)
        .where(
            t.Snapshot.model_id == before.model_id,
            t.Snapshot.deployment_id == before.deployment_id,
            t.Snapshot.status == before.status,
            t.Snapshot.status_since == before.since,
        )
        .values(**_values(after))
    )
    return rowcount(result) == 1


async def write_model(session: AsyncSession, memory: ModelMemory | None, row: ModelRow, now: datetime) -> bool:
    """Writes a model's state only if it is still what this cycle read as `memory`."""
    if memory is None:
        return await insert_ignore(session, t.ModelState, [_model_values(row, now)]) == 1
    result = await session.execute(
        update(t.ModelState)
        .where(
            t.ModelState.model_id == row[0],
            t.ModelState.production_deployment_id.is_not_distinct_from(memory.production_id),
            t.ModelState.development_deployment_id.is_not_distinct_from(memory.development_id),
        )
        .values(name=row[1], production_deployment_id=row[2], development_deployment_id=row[3])
    )
    return rowcount(result) == 1


def _model_values(row: ModelRow, now: datetime) -> dict[str, Any]:
    return {
        "model_id": row[0],
        "name": row[1],
        "production_deployment_id": row[2],
        "development_deployment_id": row[3],
        "baseline_at": now,
    }


def _values(snap: Snap) -> dict[str, Any]:
    return {
        "model_id": snap.model_id,
        "deployment_id": snap.deployment_id,
        "name": snap.name,
        "status": snap.status,
        "status_since": snap.since,
        "is_production": snap.is_production,
        "is_development": snap.is_development,
        "environment": snap.environment,
        "active_replica_count": snap.replicas,
        "instance_type_name": snap.instance_type,
        "gone": snap.gone,
        "stuck_announced": snap.stuck_announced,
        "flapping_since": snap.flapping_since,
        "parts": [list(part) for part in snap.parts] or None,
    }


def _snap(row: Any) -> Snap:
    """A snapshot row (an ORM object or a plain row with the same names) as a Snap."""
    return Snap(
        model_id=row.model_id,
        deployment_id=row.deployment_id,
        name=row.name,
        status=row.status,
        since=row.status_since,
        is_production=row.is_production,
        is_development=row.is_development,
        environment=row.environment,
        replicas=row.active_replica_count,
        instance_type=row.instance_type_name,
        gone=row.gone,
        stuck_announced=row.stuck_announced,
        flapping_since=row.flapping_since,
        parts=tuple((str(i), str(n), str(st)) for i, n, st in row.parts or ()),
    )
