"""What a digest says, from the stored transitions: counts over the period, time spent failing, and the
largest movers against the period before. Pure: the store reads the events, bot.render.digest shows them.

- deploys: deployments that appeared (a new deployment under a watched model);
- failures: a deployment entering a failed status (BUILD_FAILED, DEPLOY_FAILED, FAILED, UNHEALTHY, a job's);
- recoveries: from a failed status back to ACTIVE;
- promotions: a deployment becoming production or an environment's current one;
- time failing: how long each deployment spent in a failed status within the period, its status at the
  period's start read from the last change before it (or what the bot saw of it since then).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.changes import GONE, NEW, PROMOTED, SETTLED, STATUS
from bot.domain.status import FAILURES

Key = tuple[str, str]  # (model id, deployment id)
MOVERS = 5
_MOVES_STATUS = (STATUS, NEW, GONE, SETTLED)  # the kinds whose new status is the deployment's status after
_ZERO = timedelta(0)


@dataclass(frozen=True)
class Event:
    """One stored transition as the digest reads it."""

    kind: str
    model_id: str
    deployment_id: str
    old_status: str | None
    new_status: str
    at: datetime


@dataclass(frozen=True)
class Counts:
    deploys: int = 0
    failures: int = 0
    recoveries: int = 0
    promotions: int = 0
    changes: int = 0
    failing: timedelta = _ZERO


@dataclass(frozen=True)
class Mover:
    """A deployment among the largest movers: this period against the one before."""

    model_id: str
    deployment_id: str
    now: Counts
    before: Counts
    status: str | None  # at the period's end; None when unknown


@dataclass(frozen=True)
class Summary:
    start: datetime
    end: datetime
    now: Counts
    before: Counts  # the period before, as long
    movers: tuple[Mover, ...]
    failing_at_end: tuple[tuple[Key, str], ...]  # deployments failing when the period ended, and their status


def summarize(
    events: Iterable[Event],
    status_before: Mapping[Key, str],
    *,
    previous: datetime,
    start: datetime,
    end: datetime,
) -> Summary:
    """`events`: transitions in [previous, end); `status_before`: each deployment's status at `previous`
    where known. The current period is [start, end), the one before [previous, start)."""
    by_key: dict[Key, list[Event]] = defaultdict(list)
    for e in events:
        if previous <= e.at < end:
            by_key[(e.model_id, e.deployment_id)].append(e)
    keys = set(by_key) | set(status_before)
    per_now: dict[Key, Counts] = {}
    per_before: dict[Key, Counts] = {}
    at_end: dict[Key, str | None] = {}
    for key in keys:
        mine = sorted(by_key.get(key, []), key=lambda e: e.at)
        per_before[key], status = _counts(mine, status_before.get(key), previous, start)
        per_now[key], at_end[key] = _counts(mine, status, start, end)
    movers = sorted((k for k in keys if per_now[k].changes or per_now[k].failing), key=lambda k: _rank(per_now[k]))
    return Summary(
        start=start,
        end=end,
        now=_total(per_now.values()),
        before=_total(per_before.values()),
        movers=tuple(Mover(*k, per_now[k], per_before[k], at_end[k]) for k in movers[:MOVERS]),
        failing_at_end=tuple(sorted((k, s) for k, s in at_end.items() if s in FAILURES)),
    )


def _counts(events: Sequence[Event], status: str | None, a: datetime, b: datetime) -> tuple[Counts, str | None]:
    """One deployment's counts within [a, b), from its status at `a`; and its status at `b`."""
    deploys = failures = recoveries = promotions = changes = 0
    failing = _ZERO
    since = a
    for e in events:
        if not a <= e.at < b:
            continue
        if e.kind in _MOVES_STATUS:
            if status is None:
                status = e.old_status  # unknown before: the change says what it was
            if status in FAILURES:
                failing += e.at - since
            since, status = e.at, e.new_status
        changes += e.kind in (STATUS, NEW, GONE, PROMOTED)
        deploys += e.kind == NEW
        promotions += e.kind == PROMOTED
        failures += e.kind in (STATUS, NEW) and e.new_status in FAILURES and e.old_status not in FAILURES
        recoveries += e.kind == STATUS and e.old_status in FAILURES and e.new_status == "ACTIVE"
    if status in FAILURES:
        failing += b - since
    return Counts(deploys, failures, recoveries, promotions, changes, failing), status


def _total(counts: Iterable[Counts]) -> Counts:
    out = Counts()
    for c in counts:
        out = Counts(
            out.deploys + c.deploys,
            out.failures + c.failures,
            out.recoveries + c.recoveries,
            out.promotions + c.promotions,
            out.changes + c.changes,
            out.failing + c.failing,
        )
    return out


def _rank(c: Counts) -> tuple[float, int, int]:
    """Most time failing first, then most failures, then most changes."""
    return -c.failing.total_seconds(), -c.failures, -c.changes
