"""What the noise rules count: when each deployment changed status recently (bot.polling.noise).

Reads the `transitions` table the outbox writes; writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.status import CHURN
from bot.store import tables as t
from bot.store._sql import chunks


async def read_change_times(
    session: AsyncSession, keys: set[tuple[str, str]], *, since: datetime
) -> dict[tuple[str, str], list[datetime]]:
    """When each of these deployments changed status (churn aside) since `since`,
    counting only from its last settling after a bout of flapping."""
    out: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    settled_at: dict[tuple[str, str], datetime] = {}
    if not keys:
        return out
    dep_ids = sorted({d for _, d in keys})
    for chunk in chunks(dep_ids, 500):
        rows = (
            await session.execute(
                select(
                    t.Transition.model_id,
                    t.Transition.deployment_id,
                    t.Transition.kind,
                    t.Transition.detected_at,
                    t.Transition.old_status,
                    t.Transition.new_status,
                ).where(
                    t.Transition.deployment_id.in_(chunk),
                    t.Transition.kind.in_(("status", "settled")),
                    t.Transition.detected_at >= since,
                )
            )
        ).all()
        for model_id, dep_id, kind, at, old, new in rows:
            key = (model_id, dep_id)
            if key not in keys:
                continue
            if kind == "settled":
                settled_at[key] = max(at, settled_at.get(key, at))
            elif not (old in CHURN and new in CHURN):
                out[key].append(at)
    for key, at in settled_at.items():
        out[key] = [x for x in out[key] if x > at]
    return out
