"""Pure: what a confirmation card showed, and what a click on it may do. No I/O.

A card acts at most once and only on what it showed. Its do button carries, besides the verb
and the target (bot.actions.verbs), a `Shown`: the card's own id, when it was drawn, and what
it showed of the target (a deployment's status and role, and for Scale to zero its minimum replicas;
a promotion's status, its candidate being the target's deployment and its environment the target's). The click path
(bot.actions.clicks) asks this table, in order:

1. `on_claim`: the card claimed in the database (the first click), already spent (any later
   click, redelivery or replay: nothing is sent), not recordable (nothing is sent), or drawn
   more than MAX_AGE ago (nothing is sent, a fresh card is offered);
2. `on_read`: the target read again from Baseten (`Seen`) against what the card showed:
   the same, it goes; gone, or changed, nothing is sent and the answer says what changed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.actions.verbs import SCALE_TO_ZERO, Target, Verb, decode, encode
from bot.baseten.models import Deployment
from bot.domain.promotions import ENDS
from bot.render.cards import role

MAX_AGE = timedelta(minutes=10)  # a card older than this acts on nothing
SKEW = timedelta(minutes=2)  # a card "drawn" further in the future than this is not one the bot drew
CARD_ID = re.compile(r"[0-9a-f]{16,32}")
MAX_SHOWN = 80  # a status or a role, as carried in the button
MAX_REASON = 300  # the reason typed with an action, as carried in the button
MAX_FREEZES = 10  # the freezes an override card names, at most
FREEZE_IDS = re.compile(r"[0-9]{1,12}(,[0-9]{1,12}){0,9}")
MAX_REPLICAS = 1_000_000  # a minimum of replicas carried in the button: anything larger, the bot did not write

# what the table decides
GO = "go"  # send the one request
SPENT = "spent"  # the card was used before: nothing more is sent, the card stays as it was answered
UNRECORDED = "unrecorded"  # the claim could not be written: nothing is sent, the card still works
EXPIRED = "expired"  # older than MAX_AGE: nothing is sent, a fresh card is offered
STALE = "stale"  # what the card showed changed: nothing is sent, a fresh card is offered
GONE = "gone"  # what the card acted on is no more (a deployment deleted, a promotion ended)

# claims, as the store answers them
CLAIMED, TAKEN, FAILED = "claimed", "taken", "failed"


@dataclass(frozen=True)
class Shown:
    """What a confirmation card showed, carried by its do button."""

    card: str  # the card's own id: one card, one claim
    drawn: datetime  # when it was drawn (whole seconds)
    status: str  # the deployment's status; for a promotion's control, the promotion's
    role: str = ""  # the deployment's role (`role_of`); "" for a promotion's control
    min_replica: int | None = None  # Scale to zero's card: the deployment's minimum replicas; None on the others
    override: bool = False  # drawn for an admin's `--override`: it may act through a freeze (checked again)
    reason: str = ""  # the reason typed with the action (`promote llama v4 "fixes OOM"`)
    freezes: tuple[int, ...] = ()  # with `override`: the freezes it was drawn to act through, and only those


@dataclass(frozen=True)
class Seen:
    """The target read again at the click. `status` None: it is gone (no such deployment,
    no promotion in progress)."""

    status: str | None
    role: str = ""  # a deployment's role; for a promotion, its candidate's id
    name: str = ""  # for a promotion, its candidate's name
    current: str | None = None  # for a rollback, the environment's current deployment
    current_name: str = ""
    min_replica: int | None = None  # a deployment's minimum replicas (`min_replica_of`), None when unknown


@dataclass(frozen=True)
class Verdict:
    kind: str  # GO, SPENT, UNRECORDED, EXPIRED, STALE or GONE
    why: str = ""  # plain text (escaped when rendered): what changed, for the answer and the record

    @property
    def go(self) -> bool:
        return self.kind == GO


def role_of(dep: Deployment) -> str:
    """A deployment's role as a card shows it: `production`, `development`, an environment's name, or `-`."""
    return role(dep)


def min_replica_of(dep: Deployment) -> int | None:
    """A deployment's minimum replicas as its autoscaling settings give it; None when Baseten leaves it out."""
    return dep.autoscaling_settings.min_replica if dep.autoscaling_settings is not None else None


def role_words(value: str) -> str:
    return "in no environment" if value in ("", "-") else value


def on_claim(claim: str, shown: Shown, now: datetime, *, aged: bool = True) -> Verdict:
    """Before anything is read: the claim as the store answered it, then the card's age (not with
    `aged` False: an approved request's card, whose own limit, APPROVAL_TTL_MINUTES, was checked)."""
    if claim == FAILED:
        return Verdict(UNRECORDED, "the bot could not record it")
    if claim == TAKEN:
        return Verdict(SPENT, "this card was already used")
    if not aged:
        return Verdict(GO)
    age = now - shown.drawn
    if age > MAX_AGE or age < -SKEW:
        minutes = int(MAX_AGE.total_seconds() // 60)
        return Verdict(EXPIRED, f"this card was shown more than {minutes} minutes ago")
    return Verdict(GO)


def on_read(verb: Verb, target: Target, shown: Shown, seen: Seen) -> Verdict:
    """The target as Baseten shows it now against what the card showed."""
    if not verb.needs_deployment:
        return _promotion(target, shown, seen)
    label = target.label
    if verb.name == "rollback" and seen.current != target.expect:
        now_current = seen.current_name or seen.current or "no deployment"
        return Verdict(
            STALE, f"{target.environment} changed since this card was shown: {now_current} is current there now"
        )
    if seen.status is None:
        return Verdict(GONE, f"{label} is no longer on Baseten")
    changes = []
    if seen.status != shown.status:
        changes.append(f"{label} was {shown.status} when this card was shown and is {seen.status} now")
    if seen.role != shown.role:
        was, now = role_words(shown.role), role_words(seen.role)
        changes.append(f"{label} was {was} when this card was shown and is {now} now")
    if verb.name == SCALE_TO_ZERO:
        changes += _min_replica(label, shown, seen)
    return Verdict(STALE, "; ".join(changes)) if changes else Verdict(GO)


def _min_replica(label: str, shown: Shown, seen: Seen) -> list[str]:
    """Scale to zero acts only on the minimum the card showed, and only while it is above 0: a card
    drawn before someone (or another card) set it to 0, or changed it, sends nothing."""
    now = "unknown" if seen.min_replica is None else str(seen.min_replica)
    if shown.min_replica is None:
        return [f"this card does not say what minimum replicas of {label} it showed, so the bot cannot check it"]
    if seen.min_replica != shown.min_replica:
        return [f"{label} had min replicas {shown.min_replica} when this card was shown and has {now} now"]
    if shown.min_replica <= 0:  # never drawn with a do button by the bot: nothing to scale down
        return [f"{label} has min replicas {now} already"]
    return []


def _promotion(target: Target, shown: Shown, seen: Seen) -> Verdict:
    env, label = target.environment, target.label
    if seen.status is None or seen.status in ENDS:
        end = f" ({seen.status})" if seen.status else ""
        return Verdict(GONE, f"the promotion of {label} to {env} has ended{end} since this card was shown")
    if seen.role != target.deployment_id:
        other = seen.name or seen.role or "another deployment"
        return Verdict(STALE, f"the promotion in {env} is now of {other}, not of {label}")
    if seen.status != shown.status:
        return Verdict(
            STALE, f"the promotion of {label} was {shown.status} when this card was shown and is {seen.status} now"
        )
    return Verdict(GO)


# -- a do button's value: the verb, the target and what the card showed ----------------------


def encode_card(verb: str, target: Target, shown: Shown) -> str:
    """The do button's value: `encode`'s, plus the card's id, when it was drawn, and what it showed."""
    extra: dict[str, str | int] = {
        "c": shown.card,
        "t": int(shown.drawn.timestamp()),
        "s": shown.status[:MAX_SHOWN],
    }
    if shown.role:
        extra["r"] = shown.role[:MAX_SHOWN]
    if shown.min_replica is not None:
        extra["n"] = shown.min_replica
    if shown.override:
        extra["o"] = 1
    if shown.reason:
        extra["w"] = shown.reason[:MAX_REASON]
    if shown.freezes:
        extra["f"] = ",".join(str(i) for i in shown.freezes[:MAX_FREEZES])
    return encode(verb, target, extra)


def read_button(action: Mapping[str, Any], prefix: str) -> tuple[Verb, Target, Shown | None] | None:
    """A clicked button back to its verb, target and (a do button's) card; None for anything the bot
    did not write: a value that does not decode, or that belongs to another button, or that names no
    deployment. Ask and do buttons are read alike; `Shown` is None when the value carries no card
    (an ask button, or a card drawn before cards carried what they showed)."""
    value = str(action.get("value") or "")
    decoded = decode(value)
    if decoded is None or action.get("action_id") != prefix + decoded[0].name or not decoded[1].deployment_id:
        return None
    verb, target = decoded
    return verb, target, _shown(value)


def read_card(value: str) -> tuple[Verb, Target, Shown] | None:
    """A do button's value kept in the database (an approval request's card) back to what it was; None
    when it does not read as one the bot wrote."""
    decoded = decode(value)
    if decoded is None or not decoded[1].deployment_id:
        return None
    shown = _shown(value)
    return None if shown is None else (decoded[0], decoded[1], shown)


def _shown(value: str) -> Shown | None:
    raw = json.loads(value)  # decode() has parsed it already
    card, drawn, status, role_ = raw.get("c"), raw.get("t"), raw.get("s"), raw.get("r", "")
    if not isinstance(card, str) or not CARD_ID.fullmatch(card):
        return None
    if not isinstance(drawn, int) or isinstance(drawn, bool) or not isinstance(status, str):
        return None
    if not isinstance(role_, str) or len(status) > MAX_SHOWN or len(role_) > MAX_SHOWN:
        return None
    replicas = raw.get("n")
    if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool)):
        return None
    if replicas is not None and not 0 <= replicas <= MAX_REPLICAS:
        return None
    override, reason, frozen = raw.get("o", 0) == 1, raw.get("w", ""), raw.get("f", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON:
        return None
    if not isinstance(frozen, str) or (frozen and not FREEZE_IDS.fullmatch(frozen)):
        return None
    try:
        at = datetime.fromtimestamp(drawn, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    ids = tuple(int(i) for i in frozen.split(",")) if frozen else ()
    return Shown(card, at, status, role_, replicas, override, reason, ids)
