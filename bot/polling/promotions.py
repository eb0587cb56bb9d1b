"""Pure promotion tracking: (what the bot last saw of an environment, what Baseten answers) -> changes.

An environment's promotion has no id in Baseten's API, so the bot gives each one a key
when it first sees it (environment, candidate, first seen). Every status to every status
is a step; a traffic share that goes backwards is a step that says so; a candidate that
changes mid-promotion ends the old promotion (REPLACED) and starts a new one; a promotion
that vanishes without an end status ends as SUCCEEDED when its candidate is now current
(inferred), else as ENDED (Baseten did not say how). No I/O: plain values and an explicit `now`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.baseten.models import Deployment, Environment
from bot.domain.changes import PROMOTED, PROMOTION, Change
from bot.domain.promotions import ENDED, FINAL, REPLACED, EnvState
from bot.render.text import line

START, STEP, END = "start", "step", "end"
MAX_ERROR = 500


def _name(dep: Deployment | None) -> str:
    return "" if dep is None else dep.display_name


def _clean(error: str | None) -> str | None:
    """Baseten's error_message as bot.render.text keeps it (no NUL or other control character, which the
    database could not hold or a reader should not get), its lines kept, at most MAX_ERROR characters;
    None when nothing is left."""
    if error is None:
        return None
    return line(error, MAX_ERROR, newlines=True) or None


def seen(env: Environment, model_id: str, now: datetime) -> EnvState:
    """The environment as answered, before a key is given to its promotion."""
    promo = env.in_progress_promotion
    return EnvState(
        model_id=model_id,
        name=env.name,
        current_id=env.current_deployment.id if env.current_deployment else None,
        current_name=_name(env.current_deployment),
        candidate_id=env.candidate_deployment.id if env.candidate_deployment else None,
        candidate_name=_name(env.candidate_deployment),
        status=promo.status if promo else None,
        traffic=promo.percent_traffic_to_new_version if promo else None,
        error=_clean(promo.error_message) if promo else None,
        since=now,
    )


def new_key(state: EnvState, now: datetime) -> str:
    return f"{state.name}/{state.candidate_id or '-'}/{now:%Y%m%dT%H%M%S}"


def diff_environment(
    prev: EnvState | None, env: Environment, *, model_id: str, now: datetime
) -> tuple[EnvState | None, list[Change]]:
    """The state to write (None: unchanged) and the changes, from one environment's answer."""
    cur = seen(env, model_id, now)
    if prev is None:  # first sighting: a silent baseline, its promotion keyed so later steps share it
        return replace(cur, key=new_key(cur, now) if cur.status else None), []
    changes: list[Change] = []
    same = prev.status is not None and (
        prev.candidate_id == cur.candidate_id or None in (prev.candidate_id, cur.candidate_id)
    )
    if cur.status is None:
        after = replace(cur, since=prev.since if prev.status is None else now)
        if prev.status is not None and prev.status not in FINAL:
            changes.append(_vanished(prev, cur, now))
    elif same and not (prev.status in FINAL and cur.status not in FINAL):
        after = replace(cur, key=prev.key, since=prev.since if prev.status == cur.status else now)
        if (prev.status, prev.traffic, prev.error) != (cur.status, cur.traffic, cur.error):
            changes.append(_step(prev, after, now))
    else:  # a new promotion: nothing before, another candidate, or the same one promoted again
        if prev.status is not None and prev.status not in FINAL:
            ended = replace(prev, status=REPLACED, since=now)
            changes.append(_step(prev, ended, now, replaced_by=cur.candidate_name or cur.candidate_id))
        after = replace(cur, key=new_key(cur, now))
        changes.append(_step(None, after, now))
    promoted = _promoted(prev, cur, now)
    if promoted is not None:
        changes.append(promoted)
    if _same_state(prev, after) and not changes:
        return None, []
    return after, changes


def live_change(state: EnvState, now: datetime) -> Change:
    """The environment's promotion as its live message shows it now (the promotion guard's edits)."""
    return _step(None, state, state.since or now)


def _same_state(a: EnvState, b: EnvState) -> bool:
    return replace(a, since=None) == replace(b, since=None)


def _vanished(prev: EnvState, cur: EnvState, now: datetime) -> Change:
    """A promotion gone from the answer without an end status."""
    # the end names the deployment current now (by name), not the one current when the promotion began
    current = replace(prev, current_id=cur.current_id, current_name=cur.current_name, since=now)
    if prev.candidate_id is not None and cur.current_id == prev.candidate_id:
        return _step(prev, replace(current, status="SUCCEEDED", traffic=100), now, inferred=True)
    return _step(prev, replace(current, status=ENDED), now)


def _step(prev: EnvState | None, cur: EnvState, now: datetime, **extra: Any) -> Change:
    """One promotion change: its start (prev None), a step, or its end."""
    status = cur.status or ENDED
    phase = START if prev is None else END if status in FINAL else STEP
    detail: dict[str, Any] = {
        "environment": cur.name,
        "key": cur.key,
        "phase": phase,
        "final": status in FINAL,
        "traffic": cur.traffic,
        "error_message": cur.error,
        "current_deployment_id": cur.current_id,
        "current_deployment_name": cur.current_name,
        **{k: v for k, v in extra.items() if v is not None},
    }
    if prev is not None:
        detail["old_traffic"] = prev.traffic
        if prev.traffic is not None and cur.traffic is not None and cur.traffic < prev.traffic:
            detail["backwards"] = True
    return Change(
        PROMOTION,
        cur.model_id,
        cur.candidate_id or cur.current_id or "",
        cur.candidate_name,
        None if prev is None else prev.status,
        status,
        now,
        None if prev is None else prev.since,
        detail,
    )


def _promoted(prev: EnvState, cur: EnvState, now: datetime) -> Change | None:
    """Another deployment is current in an environment other than production (the deployment
    list tells production's). Its detail names the environment and the deployment it replaced."""
    if cur.name == "production" or cur.current_id is None or cur.current_id == prev.current_id:
        return None
    detail = {
        "previous_deployment_id": prev.current_id,
        "previous_deployment_name": prev.current_name or None,
        "environment": cur.name,
    }
    return Change(
        PROMOTED, cur.model_id, cur.current_id, cur.current_name, None, cur.name.upper()[:64], now, None, detail
    )


def diff_environments(
    prev: Mapping[str, EnvState], current: Sequence[Environment], *, model_id: str, now: datetime
) -> tuple[list[tuple[EnvState | None, EnvState]], list[Change]]:
    """Every environment of one model: (as read, as now) to write, and the changes in answer order.
    An environment gone from the answer keeps its state and says nothing."""
    writes: list[tuple[EnvState | None, EnvState]] = []
    changes: list[Change] = []
    for env in current:
        before = prev.get(env.name)
        after, found = diff_environment(before, env, model_id=model_id, now=now)
        if after is not None:
            writes.append((before, after))
        changes.extend(found)
    return writes, changes


def current_ids(prev: Mapping[str, EnvState], current: Sequence[Environment] | None) -> dict[str, str | None]:
    """Each environment's current deployment: as answered, else as last seen."""
    ids = {name: s.current_id for name, s in prev.items()}
    for env in current or ():
        ids[env.name] = env.current_deployment.id if env.current_deployment else None
    return ids


def env_of(change: Change) -> str | None:
    """The environment a promotion step or an environment's promotion names; None for production's
    `promoted` (whose detail names no environment, as the deployment list reports it)."""
    env = change.detail.get("environment")
    return str(env) if env else None
