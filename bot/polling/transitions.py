"""Pure change detection: (previous snapshots, current answer) -> snapshots to write and transitions.

Who hears a transition is bot.polling.audience. No I/O here; every function takes plain
values and an explicit `now`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.baseten.models import Deployment, Skipped
from bot.domain.changes import GONE, NEW, PARTS, PROMOTED, STATUS, Change, Snap
from bot.domain.status import DELETED, FAILURES


@dataclass
class Diff:
    """Everything one fetch result asks to write: changed snapshots and the transitions."""

    snaps: list[Snap] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    production_id: str | None = None
    development_id: str | None = None

    def extend(self, other: Diff) -> None:
        self.snaps.extend(other.snaps)
        self.changes.extend(other.changes)


def snap_of(dep: Deployment, since: datetime) -> Snap:
    return Snap(
        model_id=dep.model_id,
        deployment_id=dep.id,
        name=dep.name,
        status=dep.status,
        since=since,
        is_production=dep.is_production,
        is_development=dep.is_development,
        environment=dep.environment,
        replicas=dep.active_replica_count,
        instance_type=dep.instance_type_name,
        parts=tuple((p.id, p.name, p.status) for p in dep.parts or ()),
    )


def _detail(prev: Snap | None, cur: Snap) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "new_replicas": cur.replicas,
        "environment": cur.environment,
        "is_production": cur.is_production,
        "is_development": cur.is_development,
    }
    if prev is not None:
        detail["old_replicas"] = prev.replicas
    moved = parts_moved(prev.parts if prev is not None else (), cur.parts)
    if moved:
        detail[PARTS] = moved
    return detail


def parts_moved(
    before: tuple[tuple[str, str, str], ...], after: tuple[tuple[str, str, str], ...]
) -> list[list[str | None]]:
    """Each chainlet whose status is not what it was (a new one: from None), by name, in the answer's order."""
    was = {part_id: status for part_id, _, status in before}
    return [
        [name or part_id, was.get(part_id), status] for part_id, name, status in after if was.get(part_id) != status
    ]


def _newly_failing(prev: Snap, cur: Deployment) -> bool:
    """A chainlet failing while its chain deployment keeps its status (another chainlet failed first): a
    change of its own, announced as a failure with that chainlet's line and error lines."""
    was = {part_id: status for part_id, _, status in prev.parts}
    return any(p.status in FAILURES and was.get(p.id) not in FAILURES for p in cur.parts or ())


def diff_deployment(prev: Snap | None, cur: Deployment | None, *, now: datetime) -> Diff:
    """One deployment polled on its own. `cur` None means Baseten answered 404."""
    out = Diff()
    if cur is None:
        if prev is not None and not prev.gone:
            out.snaps.append(replace(prev, status=DELETED, since=now, gone=True, stuck_announced=0))
            out.changes.append(
                Change(
                    GONE,
                    prev.model_id,
                    prev.deployment_id,
                    prev.name,
                    prev.status,
                    DELETED,
                    now,
                    prev.since,
                    _detail(prev, replace(prev, replicas=None)),
                )
            )
        return out
    if prev is None:
        out.snaps.append(snap_of(cur, now))  # first sighting: a silent baseline
        return out
    if prev.status != cur.status or prev.gone or _newly_failing(prev, cur):
        new = replace(snap_of(cur, now), flapping_since=prev.flapping_since)
        old_status = DELETED if prev.gone else prev.status
        out.snaps.append(new)
        out.changes.append(
            Change(
                STATUS,
                cur.model_id,
                cur.id,
                cur.name or prev.name,
                old_status,
                cur.status,
                now,
                prev.since,
                _detail(prev, new),
            )
        )
        return out
    same_since = replace(
        snap_of(cur, prev.since), stuck_announced=prev.stuck_announced, flapping_since=prev.flapping_since
    )
    if same_since != prev:
        out.snaps.append(same_since)  # replicas, name or role changed: keep, don't announce
    return out


def diff_model(
    prev: Mapping[str, Snap],
    current: Sequence[Deployment] | None,
    *,
    model_id: str,
    baseline_known: bool,
    prev_production: str | None,
    now: datetime,
    prev_development: str | None = None,
    skipped: Sequence[Skipped] = (),
) -> Diff:
    """A model polled through its deployment list. `current` None means the model is gone (404).

    Without a baseline every deployment not seen before is recorded silently; with
    one, a deployment not seen before is announced as new and one missing from the
    list as deleted. A different production deployment is announced as a promotion.
    A deployment the list held but the bot could not use (`skipped`) is neither: its
    snapshot and its role stay as they were until it can be read again.
    """
    out = Diff()
    seen: set[str] = {s.id for s in skipped}
    for dep in current or ():
        seen.add(dep.id)
        before = prev.get(dep.id)
        if before is None and baseline_known:
            snap = snap_of(dep, now)
            out.snaps.append(snap)
            out.changes.append(
                Change(NEW, model_id, dep.id, dep.name, None, dep.status, now, None, _detail(None, snap))
            )
        else:
            out.extend(diff_deployment(before, dep, now=now))
        if dep.is_production:
            out.production_id = dep.id
        if dep.is_development:
            out.development_id = dep.id
    for dep_id, before in prev.items():
        if dep_id not in seen and not before.gone:
            out.extend(diff_deployment(before, None, now=now))
    if out.production_id is None and any(s.is_production for s in skipped):
        out.production_id = prev_production
    if out.development_id is None and any(s.is_development for s in skipped):
        out.development_id = prev_development
    if current is None:
        out.production_id = None
    promoted = out.production_id
    if baseline_known and promoted is not None and promoted != prev_production:
        name = next((d.name for d in current or () if d.id == promoted), "")
        out.changes.append(_promotion(model_id, promoted, name, prev.get(prev_production or ""), prev_production, now))
    return out


def _promotion(
    model_id: str, promoted: str, name: str, was: Snap | None, previous_id: str | None, now: datetime
) -> Change:
    """Another deployment became production; the one it replaced is named as every other line names one."""
    detail = {"previous_deployment_id": previous_id, "previous_deployment_name": was.name if was else None}
    return Change(PROMOTED, model_id, promoted, name, None, "PRODUCTION", now, None, detail)
