"""The promotion guard's comparisons (issue 24): what it last read of each, what it announced, its pause.

The only module that issues SQL for the `guard_checks` table. A comparison's row is written when
the guard first sees it (`begin`, INSERT … ON CONFLICT DO NOTHING: replicas agree), its windows
on every read (`save`); a failing verdict is announced through the outbox in the transaction that
adds its spec to `announced`, conditional on the value read, so each spec's announcement is
recorded once; the guard's own pause is claimed by setting `paused_at` where it is still NULL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.guard import Check, Promoted, Window
from bot.domain.memory import Outgoing
from bot.store import tables as t
from bot.store._sql import Now, chunks, insert_ignore, rowcount, utcnow
from bot.store.outbox import add_outgoing

PROMOTED = "promoted"  # bot.domain.changes.PROMOTED, as the outbox records it
SEPARATOR = "|"  # between the specs in `announced`: a spec has none


class GuardChecks:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, now: Now = utcnow) -> None:
        self._sessions = sessions
        self._now = now

    async def begin(self, checks: Sequence[Check]) -> None:
        """Rows for comparisons not yet known; one already there (another replica's) is kept."""
        if not checks:
            return
        async with self._sessions.begin() as session:
            await insert_ignore(session, t.GuardCheck, [_values(c) for c in checks])

    async def of(self, checks: Iterable[Check]) -> dict[tuple[str, str, str], Check]:
        """These comparisons as stored (what was read, announced, paused), by (model, environment, key)."""
        wanted = {(c.model_id, c.environment, c.key) for c in checks}
        g = t.GuardCheck
        out: dict[tuple[str, str, str], Check] = {}
        async with self._sessions() as session:
            for chunk in chunks(sorted({k for _, _, k in wanted}), 500):
                rows = await session.scalars(select(g).where(g.check_key.in_(chunk)))
                for row in rows.all():
                    if (row.model_id, row.environment, row.check_key) in wanted:
                        out[(row.model_id, row.environment, row.check_key)] = _check(row)
        return out

    async def find(self, model_id: str, environment: str, key: str) -> Check | None:
        async with self._sessions() as session:
            row = await session.get(t.GuardCheck, (model_id, environment, key))
        return None if row is None else _check(row)

    async def save(self, check: Check, candidate: Window, current: Window, *, at: datetime) -> None:
        """The windows just read."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(t.GuardCheck)
                .where(*_key(check))
                .values(checked_at=at, candidate=_window_json(candidate), current=_window_json(current))
            )

    async def announce(self, check: Check, spec: str, outgoing: Sequence[Outgoing]) -> bool:
        """One transaction: `spec` is added to what was announced, and the notice goes to the outbox;
        False (nothing written) when the row is no longer as `check` read it (another replica, or an
        earlier pass, announced meanwhile)."""
        announced = _join(check.announced | {spec})
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(t.GuardCheck)
                .where(*_key(check), t.GuardCheck.announced == _join(check.announced))
                .values(announced=announced)
            )
            if rowcount(result) != 1:
                return False
            await add_outgoing(session, outgoing, self._now())
        return True

    async def promoted_since(self, model_ids: Iterable[str], since: datetime) -> list[Promoted]:
        """The `promoted` changes of these models recorded since `since` (the outbox wrote them)."""
        tr = t.Transition
        out: list[Promoted] = []
        async with self._sessions() as session:
            for chunk in chunks(sorted(set(model_ids)), 500):
                rows = await session.scalars(
                    select(tr).where(tr.kind == PROMOTED, tr.model_id.in_(chunk), tr.detected_at >= since)
                )
                out.extend(_promoted(row) for row in rows.all())
        return out

    async def claim_pause(self, check: Check) -> bool:
        """The guard's one pause of this promotion: True for the first claim, in any replica."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(t.GuardCheck).where(*_key(check), t.GuardCheck.paused_at.is_(None)).values(paused_at=self._now())
            )
        return rowcount(result) == 1


def _key(check: Check) -> tuple[Any, ...]:
    g = t.GuardCheck
    return g.model_id == check.model_id, g.environment == check.environment, g.check_key == check.key


def _join(specs: Iterable[str]) -> str:
    return SEPARATOR.join(sorted(specs))


def _values(c: Check) -> dict[str, Any]:
    return {
        "model_id": c.model_id,
        "environment": c.environment,
        "check_key": c.key,
        "phase": c.phase,
        "candidate_id": c.candidate_id,
        "candidate_name": c.candidate_name[:255],
        "baseline_id": c.baseline_id,
        "baseline_name": c.baseline_name[:255],
        "started_at": c.started_at,
        "ends_at": c.ends_at,
        "announced": _join(c.announced),
    }


def _window_json(w: Window) -> dict[str, Any]:
    return {"requests": w.requests, "errors_5xx": w.errors_5xx, "p95_seconds": w.p95_seconds, "note": w.note}


def _window(raw: Any) -> Window | None:
    if not isinstance(raw, dict):
        return None

    def number(name: str) -> float | None:
        value = raw.get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    note = raw.get("note")
    return Window(
        number("requests"), number("errors_5xx"), number("p95_seconds"), note if isinstance(note, str) else None
    )


def _check(row: t.GuardCheck) -> Check:
    return Check(
        model_id=row.model_id,
        environment=row.environment,
        key=row.check_key,
        phase=row.phase,
        candidate_id=row.candidate_id,
        candidate_name=row.candidate_name,
        baseline_id=row.baseline_id,
        baseline_name=row.baseline_name,
        started_at=row.started_at,
        ends_at=row.ends_at,
        checked_at=row.checked_at,
        candidate=_window(row.candidate),
        current=_window(row.current),
        announced=frozenset(s for s in row.announced.split(SEPARATOR) if s),
        paused_at=row.paused_at,
    )


def _promoted(row: t.Transition) -> Promoted:
    detail = row.detail if isinstance(row.detail, dict) else {}
    previous = detail.get("previous_deployment_id")
    return Promoted(
        transition_id=row.id,
        model_id=row.model_id,
        environment=str(detail.get("environment") or "production"),  # production's names none
        new_id=row.deployment_id,
        new_name=row.deployment_name,
        previous_id=previous if isinstance(previous, str) and previous else None,
        previous_name=str(detail.get("previous_deployment_name") or ""),
        at=row.detected_at,
    )
