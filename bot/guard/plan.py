"""Pure: what the promotion guard compares this period, over which windows, and who hears a verdict.

- While an environment a guarded subscription watches has a promotion under way (its status not
  an end), the candidate is compared with the environment's current deployment over the same
  window: from the promotion's start, at most the last WINDOW, to now.
- For GUARD_AFTER_MINUTES after a promotion made another deployment current (a `promoted` change),
  the new current is compared with the one it replaced: the new one since the promotion (at most
  the last WINDOW), the old one over a window as long just before the promotion, when it still
  served the environment's traffic (after it, it serves none, and would have nothing to compare).

No I/O: watchers, environment states and promotions in, checks and windows out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from bot.domain.guard import AFTER, ROLLOUT, Check, GuardSpec, Promoted, stored
from bot.domain.promotions import FINAL, EnvState
from bot.domain.subjects import Kind, kind_of
from bot.domain.watchers import Watcher

WINDOW = timedelta(minutes=10)  # the longest window read: a regression late in a long rollout still shows
PRODUCTION = "production"


def spec_of(watcher: Watcher) -> GuardSpec:
    """A subscription's guard (bot.domain.guard.stored)."""
    return stored(watcher.guard)


def environment_of(target: str) -> str | None:
    """The environment a subscription's target names (`production`, `env:NAME`), else None."""
    if target == PRODUCTION:
        return PRODUCTION
    return target[4:] if target.startswith("env:") else None


def guarded(watchers: Iterable[Watcher]) -> dict[tuple[str, str], list[Watcher]]:
    """(model, environment) -> the subscriptions that guard it: a model's environment or production,
    not paused, the guard not off."""
    out: dict[tuple[str, str], list[Watcher]] = {}
    for w in watchers:
        env = environment_of(w.target)
        if env is None or w.paused or kind_of(w.model_id) is not Kind.MODEL or spec_of(w).off:
            continue
        out.setdefault((w.model_id, env), []).append(w)
    return out


def rollout_checks(
    wanted: Iterable[tuple[str, str]], states: Mapping[str, Mapping[str, EnvState]], now: datetime
) -> list[Check]:
    """A check per guarded environment with a promotion under way between two known deployments."""
    out = []
    for model_id, env in wanted:
        s = states.get(model_id, {}).get(env)
        if s is None or s.status is None or s.status in FINAL or not s.key:
            continue
        if not s.candidate_id or not s.current_id or s.candidate_id == s.current_id:
            continue
        started = _key_time(s.key) or s.since or now
        out.append(
            Check(
                model_id,
                env,
                s.key,
                ROLLOUT,
                s.candidate_id,
                s.candidate_name,
                s.current_id,
                s.current_name,
                started_at=started,
            )
        )
    return out


def after_checks(
    wanted: Iterable[tuple[str, str]], promoted: Sequence[Promoted], now: datetime, after: timedelta
) -> list[Check]:
    """A check per guarded environment's latest promotion within `after`, whose replaced deployment is known."""
    keys = set(wanted)
    latest: dict[tuple[str, str], Promoted] = {}
    for p in sorted(promoted, key=lambda p: (p.at, p.transition_id)):
        latest[(p.model_id, p.environment)] = p
    out = []
    for (model_id, env), p in sorted(latest.items()):
        if (model_id, env) not in keys or p.previous_id is None or p.previous_id == p.new_id:
            continue
        if not p.at <= now < p.at + after:
            continue
        key = f"after/{p.new_id}/{p.transition_id}"
        out.append(
            Check(
                model_id,
                env,
                key,
                AFTER,
                p.new_id,
                p.new_name,
                p.previous_id,
                p.previous_name,
                started_at=p.at,
                ends_at=p.at + after,
            )
        )
    return out


def windows(check: Check, now: datetime) -> tuple[tuple[datetime, datetime], tuple[datetime, datetime]]:
    """The candidate's window and the baseline's: the same one while a promotion runs; after it, the
    baseline's is as long, just before the promotion."""
    start = max(check.started_at, now - WINDOW)
    if check.phase == ROLLOUT:
        return (start, now), (start, now)
    length = max(now - start, timedelta(minutes=1))
    return (start, now), (check.started_at - length, check.started_at)


def _key_time(key: str) -> datetime | None:
    """When the poller first saw the promotion, from its key (`env/candidate/20261205T101500`)."""
    try:
        return datetime.strptime(key.rsplit("/", 1)[-1], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
