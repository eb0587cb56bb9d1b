"""Pure change detection: (previous snapshots, current answer) -> snapshots to write and transitions.

Also decides who hears a transition: the subscription's target and its `--on` filter.
No I/O here; every function takes plain values and an explicit `now`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from bot.baseten.models import Deployment
from bot.domain.changes import FLAPPING, GONE, NEW, PROMOTED, PROMOTION, SETTLED, STATUS, STUCK, Change, Snap, is_churn
from bot.domain.status import DELETED, FAILURES
from bot.domain.watchers import Muted, Watcher

NO_ENVIRONMENTS: Mapping[str, str | None] = MappingProxyType({})


DEPLOY_PROGRESS = frozenset({"BUILDING", "DEPLOYING", "LOADING_MODEL", "UPDATING"})
# Status names whose changes are mostly churn: naming one in `--on` asks for that churn.
CHURN_ONLY = frozenset({"SCALED_TO_ZERO", "WAKING_UP"})


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
    return detail


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
    if prev.status != cur.status or prev.gone:
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
) -> Diff:
    """A model polled through its deployment list. `current` None means the model is gone (404).

    Without a baseline every deployment not seen before is recorded silently; with
    one, a deployment not seen before is announced as new and one missing from the
    list as deleted. A different production deployment is announced as a promotion.
    """
    out = Diff()
    seen: set[str] = set()
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


# -- who hears what ------------------------------------------------------------


def passes(kinds: Iterable[str], change: Change) -> bool:
    """The `--on` filter. No kinds: everything but scale-to-zero churn.

    Churn is heard only when asked for: `scaling`, `all`, or the status names that
    exist for scaling, SCALED_TO_ZERO and WAKING_UP. `ACTIVE` means "came up" from
    anything else (a deploy, a recovery), never waking from zero.
    """
    wanted = frozenset(kinds)
    if not wanted:
        return not is_churn(change)
    if "all" in wanted:
        return True
    return any(_matches(kind, change) for kind in wanted)


def _matches(kind: str, change: Change) -> bool:
    if change.kind == PROMOTION:
        return kind == "deploys" or (kind == "failures" and change.new_status == "FAILED")
    if change.kind in (FLAPPING, SETTLED):
        return kind == "failures"
    if change.kind == STUCK:
        return kind in ("failures", "deploys")
    if kind == "failures":
        return change.kind in (STATUS, NEW) and change.new_status in FAILURES
    if kind == "recoveries":
        return change.old_status in FAILURES and change.new_status == "ACTIVE"
    if kind == "deploys":
        return change.kind in (NEW, PROMOTED, GONE) or (
            change.kind == STATUS and (change.old_status in DEPLOY_PROGRESS or change.new_status in DEPLOY_PROGRESS)
        )
    if kind == "scaling":
        return is_churn(change)
    if is_churn(change) and kind not in CHURN_ONLY:
        return False  # `--on ACTIVE` is not woken by every wake-up
    return change.kind in (STATUS, NEW) and change.new_status == kind


def env_kind(change: Change) -> str | None:
    """The environment of a promotion step, or of a promotion into an environment other than production."""
    env = change.detail.get("environment") if change.kind in (PROMOTION, PROMOTED) else None
    return str(env) if env else None


def covers(
    target: str,
    change: Change,
    *,
    production_id: str | None,
    development_id: str | None,
    environments: Mapping[str, str | None] = NO_ENVIRONMENTS,
) -> bool:
    """Whether a target ("*", production, development, env:NAME or a deployment id) of the change's model
    covers it. `environments` gives each environment's current deployment."""
    if target == "*":
        return True
    env = env_kind(change)
    if env is not None:
        return target == ("production" if env == "production" else f"env:{env}")
    if target.startswith("env:"):
        current = environments.get(target[4:])
        return change.kind != PROMOTED and current is not None and change.deployment_id == current
    if target == "production":
        return change.kind == PROMOTED or change.deployment_id == production_id
    if target == "development":
        return change.kind != PROMOTED and change.deployment_id == development_id
    return change.kind != PROMOTED and change.deployment_id == target


def is_muted(
    mutes: Iterable[Muted],
    change: Change,
    *,
    production_id: str | None,
    development_id: str | None,
    environments: Mapping[str, str | None] = NO_ENVIRONMENTS,
) -> bool:
    """A mute holding when the change happened, on a target that covers it."""
    return any(
        m.until > change.at
        and covers(
            m.target, change, production_id=production_id, development_id=development_id, environments=environments
        )
        for m in mutes
    )


def hears(
    watcher: Watcher,
    change: Change,
    *,
    production_id: str | None,
    development_id: str | None,
    environments: Mapping[str, str | None] = NO_ENVIRONMENTS,
) -> bool:
    """Whether this subscription's target covers the change and its filter lets it through.

    Promotions are heard by environment subscriptions (`production` included) only: a whole-model
    subscription polls no environments, so it would hear them only by accident."""
    if watcher.model_id != change.model_id or (watcher.target == "*" and env_kind(change) is not None):
        return False
    covered = covers(
        watcher.target, change, production_id=production_id, development_id=development_id, environments=environments
    )
    if change.kind == STUCK and change.detail.get("threshold_s") != int(watcher.stuck_after.total_seconds()):
        return False  # each subscription hears "stuck" once, at its own threshold
    return covered and passes(watcher.kinds, change)


def audience(
    watchers: Iterable[Watcher],
    change: Change,
    *,
    production_id: str | None,
    development_id: str | None,
    environments: Mapping[str, str | None] = NO_ENVIRONMENTS,
) -> list[Watcher]:
    """One watcher per channel that hears the change; paused and muted ones are left out."""
    chosen: dict[tuple[str, str], Watcher] = {}
    roles: dict[str, Any] = {
        "production_id": production_id,
        "development_id": development_id,
        "environments": environments,
    }
    for w in watchers:
        if w.paused or is_muted(w.mutes, change, **roles):
            continue
        if hears(w, change, **roles):
            chosen.setdefault((w.team_id, w.channel_id), w)
    return list(chosen.values())
