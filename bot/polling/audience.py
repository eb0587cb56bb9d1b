"""Pure: who hears a change. The `--on` filter, what a subscription's target covers
(a deployment, production, development, an environment), mutes, and the channels owed a
notice. No I/O; tested with plain values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from bot.domain.changes import (
    FLAPPING,
    GONE,
    GUARD,
    IDLE,
    NEW,
    PROMOTED,
    PROMOTION,
    QUEUED,
    SETTLED,
    STATUS,
    STUCK,
    Change,
    is_churn,
)
from bot.domain.status import FAILURES, JOB_ACTIVE, JOB_COMPLETED, JOB_STOPPED
from bot.domain.watchers import Muted, Watcher

NO_ENVIRONMENTS: Mapping[str, str | None] = MappingProxyType({})
DEPLOY_PROGRESS = frozenset({"BUILDING", "DEPLOYING", "LOADING_MODEL", "UPDATING"})
# a training job's `deploys`: it waits, starts, runs, completes or is stopped (its failures are `failures`)
JOB_PROGRESS = JOB_ACTIVE | {JOB_COMPLETED, JOB_STOPPED}
# Status names whose changes are mostly churn: naming one in `--on` asks for that churn.
CHURN_ONLY = frozenset({"SCALED_TO_ZERO", "WAKING_UP"})


def passes(kinds: Iterable[str], change: Change) -> bool:
    """The `--on` filter. No kinds: everything but scale-to-zero churn and idle replicas.

    Churn is heard only when asked for: `scaling`, `all`, or the status names that
    exist for scaling, SCALED_TO_ZERO and WAKING_UP. `ACTIVE` means "came up" from
    anything else (a deploy, a recovery), never waking from zero.
    """
    wanted = frozenset(kinds)
    if not wanted:
        return not is_churn(change) and change.kind != IDLE  # idle replicas: heard only when asked for
    if "all" in wanted:
        return True
    return any(_matches(kind, change) for kind in wanted)


def _matches(kind: str, change: Change) -> bool:
    if change.kind == IDLE or kind == "idle":
        return change.kind == IDLE and kind == "idle"
    if change.kind == PROMOTION:
        return kind == "deploys" or (kind == "failures" and change.new_status == "FAILED")
    if change.kind in (FLAPPING, SETTLED):
        return kind == "failures"
    if change.kind == GUARD:  # a rollout (or a new current) failing its guard: a failure of a deploy
        return kind in ("failures", "deploys")
    if change.kind == STUCK:
        return kind in ("failures", "deploys")
    if change.kind == QUEUED:
        return kind == "deploys"
    if kind == "failures":
        return change.kind in (STATUS, NEW) and change.new_status in FAILURES
    if kind == "recoveries":
        return change.old_status in FAILURES and change.new_status == "ACTIVE"
    if kind == "deploys":
        return change.kind in (NEW, PROMOTED, GONE) or (
            change.kind == STATUS
            and (
                change.old_status in DEPLOY_PROGRESS | JOB_PROGRESS
                or change.new_status in DEPLOY_PROGRESS | JOB_PROGRESS
            )
        )
    if kind == "scaling":
        return is_churn(change)
    if is_churn(change) and kind not in CHURN_ONLY:
        return False  # `--on ACTIVE` is not woken by every wake-up
    return change.kind in (STATUS, NEW) and change.new_status == kind


def env_kind(change: Change) -> str | None:
    """The environment of a promotion step, of a promotion into an environment other than production, or of
    the promotion guard's notice."""
    env = change.detail.get("environment") if change.kind in (PROMOTION, PROMOTED, GUARD) else None
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


def quiet_audience(
    watchers: Iterable[Watcher],
    change: Change,
    heard: Iterable[Watcher],
    *,
    environments: Mapping[str, str | None] = NO_ENVIRONMENTS,
) -> list[Watcher]:
    """The end of a promotion for the channels that follow its environment but do not hear the end
    (a mute, an `--on` filter): one watcher per channel, not paused. Their live message, if they have
    one, is edited to the end state without its controls, and nothing else is said there."""
    if change.kind != PROMOTION or not change.detail.get("final"):
        return []
    told = {(w.team_id, w.channel_id) for w in heard}
    chosen: dict[tuple[str, str], Watcher] = {}
    for w in watchers:
        if w.paused or (w.team_id, w.channel_id) in told or w.model_id != change.model_id or w.target == "*":
            continue
        if covers(w.target, change, production_id=None, development_id=None, environments=environments):
            chosen.setdefault((w.team_id, w.channel_id), w)
    return list(chosen.values())
