"""The digest's "Spend" section (issue 25): what the models a channel watches cost in the digest's
period, against the period before, the largest movers first.

Read through the service's one CostCache (usage at most an hour old, a 403 remembered an hour), so a
morning's digests in many channels ask Baseten once per window. A model's usage lines are found by
its deployments' ids as the poller last saw them, else by its name (bot.domain.spend.Scope).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bot.cost.cache import CostCache, NoBilling
from bot.domain.cost import CURRENCY, Usage, change, money, total, window_before, window_problem
from bot.domain.spend import Scope
from bot.domain.subjects import Kind as Subject
from bot.domain.subjects import kind_of
from bot.render.text import NAME, line
from bot.store import Store

SHOWN = 5  # models listed; the rest are summed in one line


class DigestSpend:
    """bot.delivery.digests.SpendSource over Baseten's billing."""

    def __init__(self, *, store: Store, cache: CostCache) -> None:
        self._store = store
        self._cache = cache

    async def spend_lines(
        self, *, team_id: str, channel_id: str, model_ids: Sequence[str], start: datetime, end: datetime
    ) -> Sequence[str] | None:
        # Billing counts whole UTC days: the period's length in days, ending on the day it ends (today
        # included, as `cost --days N`), so a daily digest at 09:00 is the last day, not two dates.
        days = max(1, round((end - start) / timedelta(days=1)))
        last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
        first = last - timedelta(days=days - 1)
        models = [m for m in model_ids if kind_of(m) is Subject.MODEL]
        if not models or window_problem(first, last) is not None:
            return None
        try:
            usage = await self._cache.usage(first, last)
            before = await self._before(first, last)
        except NoBilling:
            return ["This API key may not read Baseten's billing, so the digest says nothing of spend."]
        snaps, memory = await self._store.seen(models)
        rows: list[tuple[str, Decimal, Decimal | None]] = []
        for model_id in models:
            name = memory[model_id].name if model_id in memory else ""
            scope = Scope(Subject.MODEL, model_id, name, frozenset(snaps.get(model_id, {})))
            now_spent = total(x for x in usage.lines if scope.holds(x))
            was = None if before is None else total(x for x in before.lines if scope.holds(x))
            rows.append((name or model_id, now_spent, was))
        return lines(rows, days=(last - first).days + 1)

    async def _before(self, first: date, last: date) -> Usage | None:
        start, end = window_before(first, last)
        return None if window_problem(start, end) is not None else await self._cache.usage(start, end)


def lines(rows: Sequence[tuple[str, Decimal, Decimal | None]], *, days: int) -> list[str]:
    """Total first, then the largest movers (by the size of the change, then by spend)."""
    spent = sum((r[1] for r in rows), Decimal(0))
    was = None if any(r[2] is None for r in rows) else sum((r[2] or Decimal(0) for r in rows), Decimal(0))
    period = "the last day" if days == 1 else f"the last {days} days"
    out = [f"{money(spent)} in {period} ({CURRENCY}, Baseten's billing){_versus(spent, was)}"]
    movers = sorted(rows, key=lambda r: (-abs(r[1] - (r[2] or Decimal(0))), -r[1], r[0]))
    for name, now_spent, before in movers[:SHOWN]:
        out.append(f"{line(name, NAME)}: {money(now_spent)}{_versus(now_spent, before)}")
    if len(movers) > SHOWN:
        rest = sum((r[1] for r in movers[SHOWN:]), Decimal(0))
        out.append(f"and {len(movers) - SHOWN} more models: {money(rest)}")
    return out


def _versus(now_spent: Decimal, before: Decimal | None) -> str:
    if before is None:
        return ""
    moved = change(now_spent, before)
    if moved is None:
        return " (nothing before)" if now_spent else ""
    return f" ({'+' if moved >= 0 else ''}{(moved * 100).quantize(Decimal(1))}% vs {money(before)} before)"
