"""What the bot last saw of each watched environment: its current deployment and the promotion in it.

The only module that issues SQL for the `environment_states` table. The outbox calls
`write_environment` inside its recording transaction; the poller reads `memory`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.promotions import EnvState
from bot.store import tables as t
from bot.store._sql import chunks, insert_ignore, rowcount


class EnvStates:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def memory(self, model_ids: Iterable[str]) -> dict[str, dict[str, EnvState]]:
        """Every known environment of these models, by model and name."""
        out: dict[str, dict[str, EnvState]] = defaultdict(dict)
        ids = sorted(set(model_ids))
        if not ids:
            return out  # most polls: nobody watches the model by environment
        async with self._sessions() as session:
            for chunk in chunks(ids, 500):
                rows = await session.scalars(select(t.EnvironmentState).where(t.EnvironmentState.model_id.in_(chunk)))
                for row in rows.all():
                    out[row.model_id][row.name] = _state(row)
        return out


async def current_deployments(session: AsyncSession, model_ids: set[str]) -> dict[tuple[str, str], str | None]:
    """(model, environment) -> its current deployment as last polled, for `list`."""
    if not model_ids:
        return {}
    e = t.EnvironmentState
    rows = await session.execute(select(e.model_id, e.name, e.current_deployment_id).where(e.model_id.in_(model_ids)))
    return {(m, n): d for m, n, d in rows.all()}


async def write_environment(session: AsyncSession, before: EnvState | None, after: EnvState) -> bool:
    """Writes `after` only if the row is still what this cycle read as `before` (replicas agree)."""
    if before is None:
        return await insert_ignore(session, t.EnvironmentState, [_values(after)]) == 1
    e = t.EnvironmentState
    result = await session.execute(
        update(e)
        .where(
            e.model_id == before.model_id,
            e.name == before.name,
            e.current_deployment_id.is_not_distinct_from(before.current_id),
            e.promotion_key.is_not_distinct_from(before.key),
            e.promotion_status.is_not_distinct_from(before.status),
            e.traffic_percent.is_not_distinct_from(before.traffic),
        )
        .values(**_values(after))
    )
    return rowcount(result) == 1


def _values(s: EnvState) -> dict[str, Any]:
    return {
        "model_id": s.model_id,
        "name": s.name,
        "current_deployment_id": s.current_id,
        "current_deployment_name": s.current_name,
        "candidate_deployment_id": s.candidate_id,
        "candidate_deployment_name": s.candidate_name,
        "promotion_status": s.status,
        "traffic_percent": s.traffic,
        "error_message": s.error,
        "promotion_key": s.key,
        "since": s.since,
    }


def _state(row: t.EnvironmentState) -> EnvState:
    return EnvState(
        model_id=row.model_id,
        name=row.name,
        current_id=row.current_deployment_id,
        current_name=row.current_deployment_name,
        candidate_id=row.candidate_deployment_id,
        candidate_name=row.candidate_deployment_name,
        status=row.promotion_status,
        traffic=row.traffic_percent,
        error=row.error_message,
        key=row.promotion_key,
        since=row.since,
    )
