"""The poller's decide phase, pure: what each model's answer means, and who is told.

Given what a cycle read (the watchers, the stored snapshots and model states, each
model's answer from Baseten and the recent changes the noise rules count), `decide`
returns what to write: new snapshots and model states, and each change with the
channels that hear it. No I/O: tested with plain values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bot.baseten.models import Deployment, Environment, Listed
from bot.domain.changes import QUIET, STATUS, Change, Snap
from bot.domain.memory import History, ModelMemory, ModelRow, Outgoing
from bot.domain.promotions import EnvState
from bot.domain.watchers import Watcher
from bot.polling import noise
from bot.polling.audience import audience, quiet_audience
from bot.polling.promotions import current_ids, diff_environments
from bot.polling.transitions import Diff, diff_deployment, diff_model

EnvAnswers = Mapping[str, Sequence[Environment] | None]  # model -> its environments (None: not asked, or gone)
EnvMemory = Mapping[str, Mapping[str, EnvState]]  # model -> environment name -> what the bot last saw


@dataclass(frozen=True)
class ModelPlan:
    """What the poller must fetch for one model, derived from every subscription on it."""

    model_id: str
    model_name: str
    whole: bool  # list the model (whole-model, production or development subscriptions)
    deployments: frozenset[str]  # deployment-id targets
    environments: bool = False  # also read its environments (production or env:NAME subscriptions)
    # its listed targets: "*" (the whole model), "production", "development", "env:NAME"; empty with
    # `whole`: the whole model (what in_motion counts as watched)
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Failed:
    """A model whose fetch failed this cycle: it records nothing."""

    reason: str
    auth: bool = False


Fetched = list[Deployment] | Deployment | None | Failed  # None: the model itself is gone


@dataclass
class Decision:
    """What one cycle writes, in one transaction."""

    snaps: list[tuple[Snap | None, Snap]] = field(default_factory=list)  # (as read, as now)
    models: list[tuple[ModelMemory | None, ModelRow]] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)
    environments: list[tuple[EnvState | None, EnvState]] = field(default_factory=list)  # (as read, as now)


def plan(watchers: Iterable[Watcher]) -> list[ModelPlan]:
    """Distinct targets per model: a model is listed once however many channels watch it."""
    whole: dict[str, bool] = defaultdict(bool)
    deps: dict[str, set[str]] = defaultdict(set)
    roles: dict[str, set[str]] = defaultdict(set)
    envs: set[str] = set()
    names: dict[str, str] = {}
    for w in watchers:
        names[w.model_id] = max(names.get(w.model_id, ""), w.model_name)
        if w.target == "production" or w.target.startswith("env:"):
            envs.add(w.model_id)
        if w.target in ("*", "production", "development") or w.target.startswith("env:"):
            whole[w.model_id] = True
            roles[w.model_id].add(w.target)
        else:
            deps[w.model_id].add(w.target)
            whole.setdefault(w.model_id, False)
    return [
        ModelPlan(
            m,
            names.get(m, ""),
            whole[m],
            frozenset(deps.get(m, ())),
            m in envs,
            roles=frozenset(roles[m]),
        )
        for m in sorted(whole)
    ]


def decide(
    *,
    watchers: Sequence[Watcher],
    answers: Sequence[tuple[ModelPlan, Fetched]],
    snaps: Mapping[str, Mapping[str, Snap]],
    states: Mapping[str, ModelMemory],
    history: History,
    now: datetime,
    environments: EnvAnswers | None = None,
    env_states: EnvMemory | None = None,
) -> Decision:
    """Diff every model that answered, apply the noise rules, and pick each change's audience."""
    by_model: dict[str, list[Watcher]] = defaultdict(list)
    for w in watchers:
        by_model[w.model_id].append(w)
    out = Decision()
    for p, result in answers:
        if isinstance(result, Failed):
            continue
        known_envs = (env_states or {}).get(p.model_id, {})
        answered = (environments or {}).get(p.model_id)
        envs = current_ids(known_envs, answered)
        if p.environments and answered is not None:
            writes, changes = diff_environments(known_envs, answered, model_id=p.model_id, now=now)
            out.environments.extend(writes)
            for change in changes:
                heard = audience(
                    by_model[p.model_id], change, production_id=None, development_id=None, environments=envs
                )
                out.outgoing.append(Outgoing(change, p.model_name, heard))
                quiet = quiet_audience(by_model[p.model_id], change, heard, environments=envs)
                if quiet:  # a muted or filtered end still ends the live message (bot.delivery.promotions)
                    out.outgoing.append(Outgoing(quiet_end(change), p.model_name, quiet))
        watchers_of = by_model[p.model_id]
        _model(out, p, result, snaps.get(p.model_id, {}), states.get(p.model_id), watchers_of, history, now, envs)
    return out


def _model(
    out: Decision,
    p: ModelPlan,
    result: list[Deployment] | Deployment | None,
    known: Mapping[str, Snap],
    memory: ModelMemory | None,
    watchers: list[Watcher],
    history: History,
    now: datetime,
    envs: Mapping[str, str | None],
) -> None:
    """One model's part of the decision; `envs` gives each environment's current deployment."""
    diff = diff_answer(p, result, known, memory, now)
    current = _current(p, result, known, diff)
    extra = noise.apply(
        current,
        diff.changes,
        {d: history.get((p.model_id, d), []) for d in current},
        {w.stuck_after for w in watchers},
        now,
    )
    after = {s.deployment_id: s for s in diff.snaps} | {s.deployment_id: s for s in extra.snaps}
    out.snaps.extend((known.get(dep_id), snap) for dep_id, snap in after.items())
    prod = diff.production_id if p.whole else (memory.production_id if memory else None)
    dev = diff.development_id if p.whole else (memory.development_id if memory else None)
    if p.whole and (
        memory is None or (memory.production_id, memory.development_id, memory.name) != (prod, dev, p.model_name)
    ):
        out.models.append((memory, (p.model_id, p.model_name, prod, dev)))
    for change in [*diff.changes, *extra.changes]:
        held = change.kind == STATUS and change.deployment_id in extra.held
        heard = [] if held else audience(watchers, change, production_id=prod, development_id=dev, environments=envs)
        out.outgoing.append(Outgoing(change, p.model_name, heard))


def quiet_end(change: Change) -> Change:
    """The same end of a promotion, for channels that do not hear it: delivered as an edit alone."""
    return replace(change, detail={**change.detail, QUIET: True})


def diff_answer(
    p: ModelPlan,
    result: list[Deployment] | Deployment | None,
    known: Mapping[str, Snap],
    memory: ModelMemory | None,
    now: datetime,
) -> Diff:
    """What changed between the stored snapshots and one model's answer."""
    if p.whole:
        current = result if isinstance(result, list) or result is None else [result]
        return diff_model(
            dict(known),
            current,
            model_id=p.model_id,
            baseline_known=memory is not None,
            prev_production=memory.production_id if memory else None,
            prev_development=memory.development_id if memory else None,
            skipped=result.skipped if isinstance(result, Listed) else (),
            now=now,
        )
    out = Diff()
    if isinstance(result, list):
        listed = {d.id: d for d in result}
        unread = {s.id for s in result.skipped} if isinstance(result, Listed) else set()
        for dep_id in p.deployments:
            if dep_id not in unread:  # listed, but not usable this time: neither changed nor gone
                out.extend(diff_deployment(known.get(dep_id), listed.get(dep_id), now=now))
    elif result is None:  # the model itself is gone
        for dep_id in p.deployments:
            out.extend(diff_deployment(known.get(dep_id), None, now=now))
    else:
        out.extend(diff_deployment(known.get(result.id), result, now=now))
    return out


def _current(
    p: ModelPlan, result: list[Deployment] | Deployment | None, known: Mapping[str, Snap], diff: Diff
) -> dict[str, Snap]:
    """Snapshots after this cycle of the deployments this cycle actually saw."""
    after = {**known, **{s.deployment_id: s for s in diff.snaps}}
    if isinstance(result, list) and p.whole:
        ids = {d.id for d in result}
    elif isinstance(result, list):
        ids = {d.id for d in result} & set(p.deployments)
    elif isinstance(result, Deployment):
        ids = {result.id}
    else:
        ids = set()
    return {d: after[d] for d in ids if d in after}


def history_window(snaps: Mapping[str, Mapping[str, Snap]], now: datetime) -> datetime:
    """How far back the noise rules look: the flap window, or the oldest bout of flapping."""
    starts = [s.flapping_since for model in snaps.values() for s in model.values() if s.flapping_since is not None]
    return min([now - noise.FLAP_WINDOW, *starts])
