"""Pure: which watched deployments the idle check reads, and what counts as idle.

- A channel asks for idle notices with `--on idle` (or `all`); nothing else hears them.
- A deployment is a candidate when the poller last saw it ACTIVE, with replicas up, for at least
  IDLE_AFTER_MINUTES, and a channel asking for idle notices would hear about it (its target covers
  the deployment; muted or paused channels do not count).
- Idle is "(almost) no requests": at most one request an hour on average over the window
  (`requests × 60 ≤ minutes`), so a stray health probe does not keep a GPU looking busy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain.changes import IDLE, Change, Snap
from bot.domain.memory import ModelMemory
from bot.domain.subjects import Kind, kind_of
from bot.domain.watchers import Watcher
from bot.polling.audience import audience

UP = "ACTIVE"


@dataclass(frozen=True)
class Candidate:
    """A deployment with replicas up long enough to be read for idleness, and who would hear it."""

    model_id: str
    deployment_id: str
    name: str
    replicas: int
    instance_type: str | None
    model_name: str
    watchers: tuple[Watcher, ...]  # one per channel that would hear it, as audience() chose them


def listening(watchers: Iterable[Watcher]) -> dict[str, list[Watcher]]:
    """By model: the subscriptions that ask for idle notices (`--on idle` or `all`), of models only
    (a chain's or a training job's replicas are not read)."""
    out: dict[str, list[Watcher]] = defaultdict(list)
    for w in watchers:
        if not w.paused and ("idle" in w.kinds or "all" in w.kinds) and kind_of(w.model_id) is Kind.MODEL:
            out[w.model_id].append(w)
    return dict(out)


def is_up(snap: Snap) -> bool:
    return not snap.gone and snap.status == UP and (snap.replicas or 0) > 0 and not snap.parts


def idle_change(
    model_id: str,
    deployment_id: str,
    name: str,
    *,
    now: datetime,
    after: timedelta,
    detail: Mapping[str, Any] | None = None,
) -> Change:
    """The idle notice's change: without `detail`, as audience() judges who hears it."""
    return Change(IDLE, model_id, deployment_id, name, UP, UP, now, old_since=now - after, detail=detail or {})


def candidates(
    listeners: Mapping[str, Sequence[Watcher]],
    snaps: Mapping[str, Mapping[str, Snap]],
    models: Mapping[str, ModelMemory],
    environments: Mapping[str, Mapping[str, str | None]],
    *,
    now: datetime,
    after: timedelta,
) -> list[Candidate]:
    """The deployments to read: up for at least `after`, heard by at least one listening channel."""
    out: list[Candidate] = []
    for model_id, watchers in sorted(listeners.items()):
        memory = models.get(model_id)
        name = next((w.model_name for w in watchers if w.model_name), memory.name if memory else "")
        for snap in sorted(snaps.get(model_id, {}).values(), key=lambda s: s.deployment_id):
            if not is_up(snap) or snap.since > now - after:
                continue
            told = audience(
                watchers,
                idle_change(model_id, snap.deployment_id, snap.name, now=now, after=after),
                production_id=memory.production_id if memory else None,
                development_id=memory.development_id if memory else None,
                environments=environments.get(model_id, {}),
            )
            if told:
                out.append(
                    Candidate(
                        model_id,
                        snap.deployment_id,
                        snap.name,
                        snap.replicas or 0,
                        snap.instance_type,
                        name,
                        tuple(told),
                    )
                )
    return out


def is_idle(requests: float, window: timedelta) -> bool:
    """(Almost) no requests: at most one an hour on average over the window."""
    return requests >= 0 and requests * 3600 <= window.total_seconds()
