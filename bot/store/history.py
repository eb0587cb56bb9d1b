"""The stored transition history, read two ways: when each deployment changed status recently (for the
noise rules, bot.polling.noise), and what changed over a digest's periods (`PeriodHistory`).

Reads the `transitions` table the outbox writes; writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.changes import GONE, NEW, PROMOTED, SETTLED, STATUS
from bot.domain.digest_summary import Event, Key
from bot.domain.status import CHURN
from bot.store import tables as t
from bot.store._sql import chunks
from bot.store.snapshots import read_memory

Wanted = Callable[[Key], bool]

_COUNTED = (STATUS, NEW, GONE, SETTLED, PROMOTED)  # what a digest counts or follows a status by


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


@dataclass
class Period:
    """What a digest reads: the watched deployments' transitions in the window, each one's status at the
    window's start where known, and the deployments' names."""

    events: list[Event] = field(default_factory=list)
    status_at_start: dict[Key, str] = field(default_factory=dict)
    names: dict[Key, str] = field(default_factory=dict)


class PeriodHistory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def period(self, watched: Collection[tuple[str, str | None]], *, since: datetime, until: datetime) -> Period:
        """Transitions in [since, until) of what `watched` names: (model id, None) for all of a model's
        deployments, (model id, deployment id) for one."""
        whole = {m for m, d in watched if d is None}
        one = {(m, d) for m, d in watched if d is not None}
        models = sorted(whole | {m for m, _ in one})

        def wanted(key: Key) -> bool:
            return key[0] in whole or key in one

        out = Period()
        async with self._sessions() as session:
            for chunk in chunks(models, 200):
                await _events(session, chunk, since, until, wanted, out)
                await _last_before(session, chunk, since, wanted, out)
            snaps, _ = await read_memory(session, models)
        for model_id, deps in snaps.items():
            for dep_id, snap in deps.items():
                key = (model_id, dep_id)
                if wanted(key):
                    out.names[key] = snap.name or out.names.get(key, "")
                    if key not in out.status_at_start and snap.since <= since:
                        out.status_at_start[key] = snap.status  # unchanged since before the window
        return out


async def _events(
    session: AsyncSession, models: Collection[str], since: datetime, until: datetime, wanted: Wanted, out: Period
) -> None:
    tr = t.Transition
    rows = await session.execute(
        select(tr.kind, tr.model_id, tr.deployment_id, tr.deployment_name, tr.old_status, tr.new_status, tr.detected_at)
        .where(tr.model_id.in_(models), tr.kind.in_(_COUNTED), tr.detected_at >= since, tr.detected_at < until)
        .order_by(tr.id)
    )
    for kind, model_id, dep_id, name, old, new, at in rows.all():
        if wanted((model_id, dep_id)):
            out.events.append(Event(kind, model_id, dep_id, old, new, at))
            if name:
                out.names[(model_id, dep_id)] = name


async def _last_before(
    session: AsyncSession, models: Collection[str], since: datetime, wanted: Wanted, out: Period
) -> None:
    """Each deployment's status after its last change before `since`."""
    tr = t.Transition
    last = (
        select(func.max(tr.id))
        .where(tr.model_id.in_(models), tr.kind.in_((STATUS, NEW, GONE, SETTLED)), tr.detected_at < since)
        .group_by(tr.model_id, tr.deployment_id)
    )
    rows = await session.execute(select(tr.model_id, tr.deployment_id, tr.new_status).where(tr.id.in_(last)))
    for model_id, dep_id, status in rows.all():
        if wanted((model_id, dep_id)):
            out.status_at_start[(model_id, dep_id)] = status
