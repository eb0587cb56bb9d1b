"""Pure noise rules: a deployment stuck in progress, and one flapping back and forth.

`stuck`: in BUILDING, DEPLOYING, LOADING_MODEL, UPDATING or WAKING_UP longer than a
subscription's threshold (30 minutes unless set), announced once per threshold.
`queued`: a training job pending (queued for GPUs) longer than QUEUE_NOTE, noted once.
`flapping`: more than FLAP_LIMIT status changes (scale-to-zero churn aside) within
FLAP_WINDOW; announced once, its changes then held back until it has been stable for
FLAP_STABLE, when one `settled` summary follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.domain.changes import FLAPPING, QUEUE_NOTE, QUEUED, SETTLED, STATUS, STUCK, Change, Snap, is_churn
from bot.domain.status import JOB_PENDING

STUCK_STATES = frozenset({"BUILDING", "DEPLOYING", "LOADING_MODEL", "UPDATING", "WAKING_UP"})
FLAP_LIMIT = 4
FLAP_WINDOW = timedelta(minutes=30)
FLAP_STABLE = timedelta(minutes=10)


def stuck_due(snap: Snap, thresholds: Iterable[timedelta], now: datetime) -> list[timedelta]:
    """Thresholds this deployment has newly passed in its current in-progress status."""
    if snap.gone or snap.status not in STUCK_STATES:
        return []
    elapsed = now - snap.since
    announced = timedelta(seconds=snap.stuck_announced)
    return sorted(t for t in set(thresholds) if announced < t <= elapsed)


def starts_flapping(
    change_times: Sequence[datetime], now: datetime, *, window: timedelta = FLAP_WINDOW, limit: int = FLAP_LIMIT
) -> bool:
    return sum(1 for t in change_times if now - t <= window) > limit


def settled(snap: Snap, now: datetime, *, stable: timedelta = FLAP_STABLE) -> bool:
    return snap.flapping_since is not None and now - snap.since >= stable


@dataclass
class Noise:
    """What the noise rules add to one model's diff."""

    snaps: list[Snap] = field(default_factory=list)  # snapshots whose noise state changed
    changes: list[Change] = field(default_factory=list)  # stuck / flapping / settled
    held: set[str] = field(default_factory=set)  # deployments whose status changes are held back


def apply(
    current: Mapping[str, Snap],
    changes: Sequence[Change],
    change_times: Mapping[str, Sequence[datetime]],
    thresholds: Iterable[timedelta],
    now: datetime,
) -> Noise:
    """`current`: the model's snapshots after this cycle's diff; `change_times`: recent status
    changes per deployment, already stored (this cycle's are in `changes`)."""
    out = Noise()
    limits = set(thresholds)
    changed = {c.deployment_id for c in changes if c.kind == STATUS and not is_churn(c)}
    for dep_id, snap in current.items():
        if snap.gone:
            continue
        times = change_times.get(dep_id, ())
        if snap.flapping_since is not None:
            if dep_id in changed:
                out.held.add(dep_id)
            elif settled(snap, now):
                out.changes.append(_settled(snap, times, now))
                out.snaps.append(replace(snap, flapping_since=None))
                continue
        elif dep_id in changed and starts_flapping([*times, now], now):
            out.changes.append(_flapping(snap, [*times, now], now))
            out.held.add(dep_id)
            snap = replace(snap, flapping_since=now)
            out.snaps.append(snap)
        for threshold in stuck_due(snap, limits, now):
            seconds = int(threshold.total_seconds())
            out.changes.append(
                Change(
                    STUCK,
                    snap.model_id,
                    dep_id,
                    snap.name,
                    snap.status,
                    snap.status,
                    now,
                    snap.since,
                    {"threshold_s": seconds},
                )
            )
            snap = replace(snap, stuck_announced=seconds)
            out.snaps = [s for s in out.snaps if s.deployment_id != dep_id] + [snap]
        if queued_due(snap, now):
            seconds = int(QUEUE_NOTE.total_seconds())
            out.changes.append(Change(QUEUED, snap.model_id, dep_id, snap.name, None, snap.status, now, snap.since, {}))
            snap = replace(snap, stuck_announced=seconds)
            out.snaps = [s for s in out.snaps if s.deployment_id != dep_id] + [snap]
    return out


def queued_due(snap: Snap, now: datetime) -> bool:
    """A training job pending longer than QUEUE_NOTE, not yet noted (once per time it is pending)."""
    return not snap.gone and snap.status == JOB_PENDING and snap.stuck_announced == 0 and now - snap.since >= QUEUE_NOTE


def _settled(snap: Snap, times: Sequence[datetime], now: datetime) -> Change:
    """Stable again after a bout of flapping: one summary of how many changes it held back."""
    assert snap.flapping_since is not None
    count = sum(1 for t in times if t >= snap.flapping_since)
    return Change(
        SETTLED,
        snap.model_id,
        snap.deployment_id,
        snap.name,
        None,
        snap.status,
        now,
        snap.flapping_since,
        {"changes": count},
    )


def _flapping(snap: Snap, times: Sequence[datetime], now: datetime) -> Change:
    detail = {
        "changes": len([t for t in times if now - t <= FLAP_WINDOW]),
        "window_s": int(FLAP_WINDOW.total_seconds()),
    }
    return Change(FLAPPING, snap.model_id, snap.deployment_id, snap.name, None, snap.status, now, None, detail)
