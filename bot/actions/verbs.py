"""Pure: what acting on a deployment means, verb by verb. No I/O.

An action is a verb (its wording, the one Baseten request it makes, and which reader of
bot.actions.answers reads Baseten's 200 answer) applied to a target (a model, a deployment,
an environment).
Everything else, the confirmation card, the permission check, the one-click-one-request
record and the outcome line, is the same for every verb (bot.actions.operations, bot.actions.buttons),
so a new verb (a promotion's Pause, Resume, Cancel, Force roll forward) is one more
entry in VERBS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.actions.answers import (
    read_autoscaling,
    read_cancel,
    read_deployment,
    read_recreate,
    read_retry,
    read_stop,
    read_success,
)
from bot.domain.ids import is_plain_id
from bot.domain.status import FAILURES, JOB_ACTIVE, JOB_FAILURES, JOB_STOPPED
from bot.domain.subjects import Kind, is_key, kind_of, own_id

PRODUCTION = "production"
# a deployment that is up, or on its way up, or scaled to zero: Deactivate fits it
RUNNING = frozenset({"ACTIVE", "SCALED_TO_ZERO", "WAKING_UP", "UNHEALTHY"})
RETRYABLE = frozenset({"BUILD_FAILED", "DEPLOY_FAILED"})
SCALE_TO_ZERO = "scale_to_zero"  # not by status alone: it fits a running deployment kept up (`scales_to_zero`)


@dataclass(frozen=True)
class Target:
    """What an action is about. Ids are plain (checked by `decode` and the parser); names are for people."""

    model_id: str
    deployment_id: str = ""
    environment: str = PRODUCTION
    model_name: str = ""
    deployment_name: str = ""
    # rollback: the deployment that must still be current in the environment when the card's button
    # is clicked (the one rolled back from); "" for every other action
    expect: str = ""

    @property
    def label(self) -> str:
        return self.deployment_name or self.deployment_id or self.environment


Request = tuple[str, dict[str, Any]]  # a path under the API and its JSON body


@dataclass(frozen=True)
class Verb:
    name: str  # "retry"; also the interaction's action id suffix
    label: str  # the button: "Retry"
    past: str  # the outcome line: "<@U1> retried `v3`"
    does: Callable[[Target], str]  # what will happen, in plain text
    request: Callable[[Target], Request]
    read: Callable[[Any], tuple[bool, str]]  # a 200 body -> (accepted, words)
    danger: bool = False  # red button: it takes something down or changes what serves traffic
    needs_deployment: bool = True  # False for an environment's own actions (a promotion's Pause, Cancel, …)
    method: str = "POST"  # PATCH for a change of the deployment's settings (scale to zero)


def segment(value: str, what: str) -> str:
    """One path segment from an id already checked; a second check costs nothing and keeps paths safe."""
    if not is_plain_id(value):
        raise ValueError(f"{what} is not a plain id: {value[:80]!r}")
    return quote(value, safe="")


def _deployment_path(t: Target, tail: str) -> str:
    model, deployment = segment(t.model_id, "model id"), segment(t.deployment_id, "deployment id")
    return f"/v1/models/{model}/deployments/{deployment}/{tail}"


def _promote(t: Target) -> Request:
    """Production through the deployment's own promote (Baseten's defaults for the old one);
    any other environment through the environment's promote, naming the deployment."""
    if t.environment == PRODUCTION:
        return _deployment_path(t, "promote"), {}
    env = segment(t.environment, "environment")
    return f"/v1/models/{segment(t.model_id, 'model id')}/environments/{env}/promote", {
        "deployment_id": t.deployment_id
    }


def _job_path(t: Target, tail: str) -> str:
    """A training job's own action (the target's model is its project's key `training:ID`)."""
    project, job = segment(own_id(t.model_id), "training project id"), segment(t.deployment_id, "job id")
    return f"/v1/training_projects/{project}/jobs/{job}/{tail}"


def _env_path(t: Target, tail: str) -> str:
    model, env = segment(t.model_id, "model id"), segment(t.environment, "environment")
    return f"/v1/models/{model}/environments/{env}/{tail}"


VERBS: dict[str, Verb] = {
    v.name: v
    for v in (
        Verb(
            "retry",
            "Retry",
            "retried",
            lambda t: f"Baseten will retry the failed build and deploy of {t.label}.",
            lambda t: (_deployment_path(t, "retry"), {}),
            read_retry,
        ),
        Verb(
            "activate",
            "Activate",
            "activated",
            lambda t: f"Baseten will activate {t.label}: it starts replicas and bills for them again.",
            lambda t: (_deployment_path(t, "activate"), {}),
            read_success("activate"),
        ),
        Verb(
            "deactivate",
            "Deactivate",
            "deactivated",
            lambda t: f"Baseten will deactivate {t.label}: its replicas stop and it answers no requests.",
            lambda t: (_deployment_path(t, "deactivate"), {}),
            read_success("deactivate"),
            danger=True,
        ),
        Verb(
            SCALE_TO_ZERO,
            "Scale to zero",
            "set min replicas to 0 on",
            lambda t: (
                f"Baseten will set the minimum replicas of {t.label} to 0: with no traffic it scales down to "
                "none and stops billing, and the next request waits for a replica to start."
            ),
            lambda t: (_deployment_path(t, "autoscaling_settings"), {"min_replica": 0}),
            read_autoscaling,
            method="PATCH",
        ),
        Verb(
            "promote",
            "Promote",
            "promoted",
            lambda t: f"Baseten will promote {t.label} to {t.environment}: it takes that environment's traffic.",
            _promote,
            read_deployment,
            danger=True,
        ),
        Verb(
            "rollback",
            "Roll back",
            "rolled back to",
            lambda t: (
                f"Baseten will promote {t.label} back to {t.environment}, the deployment that was current "
                "there before the latest promotion the bot saw."
            ),
            _promote,
            read_deployment,
            danger=True,
        ),
        # a training job's: stop one that runs or waits, recreate one that ended (a new job, same spec)
        Verb(
            "stop",
            "Stop",
            "stopped",
            lambda t: (
                f"Baseten will stop the training job {t.label}: it ends now, with the checkpoints written so far."
            ),
            lambda t: (_job_path(t, "stop"), {}),
            read_stop,
            danger=True,
        ),
        Verb(
            "recreate",
            "Recreate",
            "recreated",
            lambda t: (
                f"Baseten will start a new training job with the same spec as {t.label}; it bills for GPUs again."
            ),
            lambda t: (_job_path(t, "recreate"), {}),
            read_recreate,
        ),
        # a promotion's controls: they act on the environment, the candidate names it for people
        Verb(
            "pause_promotion",
            "Pause",
            "paused the promotion of",
            lambda t: (
                f"Baseten will pause the rolling promotion of {t.label} to {t.environment}: traffic stays "
                "where it is until someone resumes it."
            ),
            lambda t: (_env_path(t, "pause_promotion"), {}),
            read_success("pause"),
            needs_deployment=False,
        ),
        Verb(
            "resume_promotion",
            "Resume",
            "resumed the promotion of",
            lambda t: f"Baseten will resume the rolling promotion of {t.label} to {t.environment}.",
            lambda t: (_env_path(t, "resume_promotion"), {}),
            read_success("resume"),
            needs_deployment=False,
        ),
        Verb(
            "cancel_promotion",
            "Cancel promotion",
            "canceled the promotion of",
            lambda t: (
                f"Baseten will cancel the promotion of {t.label} to {t.environment}: its traffic goes back "
                "to the current deployment."
            ),
            lambda t: (_env_path(t, "cancel_promotion"), {}),
            read_cancel,
            danger=True,
            needs_deployment=False,
        ),
        Verb(
            "force_roll_forward_promotion",
            "Force roll forward",
            "forced forward the promotion of",
            lambda t: (
                f"Baseten will move all of {t.environment}'s traffic to {t.label} now, without waiting for "
                "the rest of the ramp."
            ),
            lambda t: (_env_path(t, "force_roll_forward_promotion"), {}),
            read_success("roll forward"),
            danger=True,
            needs_deployment=False,
        ),
    )
}
# which controls fit a promotion in each status (RAMPING_DOWN, a cancel on its way, and the ends: none)
PROMOTION_CONTROLS = {
    "RELEASING": ("pause_promotion", "cancel_promotion", "force_roll_forward_promotion"),
    "RAMPING_UP": ("pause_promotion", "cancel_promotion", "force_roll_forward_promotion"),
    "PAUSED": ("resume_promotion", "cancel_promotion", "force_roll_forward_promotion"),
}


def promotion_controls(status: str | None) -> tuple[str, ...]:
    return PROMOTION_CONTROLS.get(status or "", ())


JOB_VERBS = ("stop", "recreate")  # a training job's; every other verb is a model deployment's


def fitting(status: str, *, production: bool, kind: Kind = Kind.MODEL) -> list[str]:
    """The verbs whose buttons fit a deployment in this status: Retry a failed build or deploy,
    Activate an inactive one, Roll back a failing production one, Deactivate one that runs; a
    training job's: Stop one that runs or waits, Recreate one that failed or was stopped. The bot
    does not act on chains."""
    if kind is Kind.TRAINING:
        return ["stop"] if status in JOB_ACTIVE else ["recreate"] if status in JOB_FAILURES | {JOB_STOPPED} else []
    if kind is Kind.CHAIN:
        return []
    verbs = []
    if status in RETRYABLE:
        verbs.append("retry")
    if status == "INACTIVE":
        verbs.append("activate")
    failing_production = production and status in FAILURES
    if failing_production:
        verbs.append("rollback")
    if status in RUNNING and not failing_production:
        verbs.append("deactivate")
    return verbs


def scales_to_zero(status: str, min_replica: int | None, *, kind: Kind = Kind.MODEL) -> bool:
    """Whether Scale to zero is offered: a model's deployment that runs (RUNNING) and keeps replicas up
    however idle it is (`min_replica` above 0; unknown is not offered)."""
    return kind is Kind.MODEL and status in RUNNING and min_replica is not None and min_replica > 0


def fits(verb: str, status: str, *, production: bool, kind: Kind = Kind.MODEL) -> bool:
    """Whether the verb fits the status (promote fits any deployment that is not failing; scale to zero
    any model's deployment that runs, its minimum replicas checked apart, see `scales_to_zero`; a
    promotion's controls are checked against the promotion's status instead, see `promotion_controls`)."""
    if not VERBS[verb].needs_deployment:
        return verb in promotion_controls(status)
    if verb == "promote":
        return kind is Kind.MODEL and status not in FAILURES
    if verb == SCALE_TO_ZERO:
        return kind is Kind.MODEL and status in RUNNING
    return verb in fitting(status, production=production, kind=kind)


# -- a button's value: the action and its target, small and checked on the way back --------


def encode(verb: str, target: Target, extra: Mapping[str, str | int] | None = None) -> str:
    """Well under Slack's 2,000 characters: four ids of at most 64 and two names cut to 80 characters,
    kept as characters (`ensure_ascii=False`: escaped, 80 emoji would take 960). `extra`: what a
    confirmation card showed (bot.actions.checks), a few short fields more."""
    value: dict[str, str | int] = {
        "v": verb,
        "m": target.model_id,
        "d": target.deployment_id,
        "e": target.environment,
        "mn": target.model_name[:80],
        "dn": target.deployment_name[:80],
    }
    if target.expect:
        value["x"] = target.expect
    value.update(extra or {})
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def decode(value: str) -> tuple[Verb, Target] | None:
    """A button's value back to a verb and target; None for anything the bot did not write."""
    try:
        raw = json.loads(value)
    except ValueError:
        return None
    if not isinstance(raw, Mapping) or raw.get("v") not in VERBS:
        return None
    fields = {k: raw.get(k, "") for k in ("m", "d", "e", "mn", "dn", "x")}
    if not all(isinstance(v, str) for v in fields.values()):
        return None
    if not is_key(fields["m"]) or not is_plain_id(fields["e"]):
        return None
    if any(fields[k] and not is_plain_id(fields[k]) for k in ("d", "x")):
        return None
    verb = str(raw["v"])
    if (verb in JOB_VERBS) != (kind_of(fields["m"]) is Kind.TRAINING) or kind_of(fields["m"]) is Kind.CHAIN:
        return None  # a job's verb on a model, a model's on a job, anything on a chain: never written by the bot
    target = Target(fields["m"], fields["d"], fields["e"], fields["mn"], fields["dn"], fields["x"])
    return VERBS[verb], target
