"""What a change is: the kinds of change, a deployment snapshot, one transition, and which
changes alarm a channel. The vocabulary the poller, the store, the notices and the
actions share; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.domain.status import CHURN, FAILURES

STATUS = "status"
NEW = "new"
GONE = "deleted"
PROMOTED = "promoted"
STUCK = "stuck"  # in an in-progress status longer than the subscription's threshold
FLAPPING = "flapping"  # changing back and forth: its changes are held back
SETTLED = "settled"  # stable again after flapping: one summary
QUEUED = "queued"  # a training job pending (waiting for GPUs) longer than QUEUE_NOTE: one thread line
PROMOTION = "promotion"  # a step of a promotion into an environment (bot.polling.promotions)
GUARD = "guard"  # the promotion guard found a candidate (or a new current) failing (bot.guard.job)
IDLE = "idle"  # replicas up with (almost) no requests for IDLE_AFTER_MINUTES: once per idle spell (bot.idle.job)
# a reminder that a failure lasts unacknowledged (issue 26, bot.oncall): made by the on-call pass, not the
# poller; its detail says which alarm (the failure notice's delivery id), which reminder of how many
REMIND = "remind"
# a promotion's end in a detail, for channels that follow it but do not hear its end (muted, filtered):
# their live message is edited to the end state, without controls, and nothing is posted
QUIET = "quiet"
RUN = "run"  # in a detail: a training job's end, {"duration_s", "instance_type", "checkpoints"} as known
QUEUE = "queue"  # in a detail: why a training job is still pending, one line (bot.polling.runs)
PARTS = "parts"  # in a detail: the chainlets whose status changed, [[name, old status or None, new status], ...]
DEFAULT_STUCK = timedelta(minutes=30)
QUEUE_NOTE = timedelta(minutes=10)


@dataclass(frozen=True)
class Snap:
    """What the bot last saw of one deployment."""

    model_id: str
    deployment_id: str
    name: str
    status: str
    since: datetime
    is_production: bool | None = None
    is_development: bool | None = None
    environment: str | None = None
    replicas: int | None = None
    instance_type: str | None = None
    gone: bool = False
    stuck_announced: int = 0  # seconds: the longest stuck threshold announced for this status
    flapping_since: datetime | None = None
    # a chain deployment's chainlets as last seen: (id, name, status) each; empty for a model's deployment
    parts: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Change:
    """One transition, before it is stored."""

    kind: str
    model_id: str
    deployment_id: str
    deployment_name: str
    old_status: str | None
    new_status: str
    at: datetime
    old_since: datetime | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


def is_alarm(change: Change) -> bool:
    """Failures and recoveries: broadcast to the channel even when they reply in a thread."""
    if change.kind in (STUCK, FLAPPING, GUARD):
        return True
    if change.kind in (STATUS, NEW) and change.new_status in FAILURES:
        return True
    return change.old_status in FAILURES and change.new_status == "ACTIVE"


def is_failure(change: Change) -> bool:
    """A notice that a deployment (or job) failed: it carries Acknowledge, and opens an alarm (issue 26)."""
    return change.kind in (STATUS, NEW) and change.new_status in FAILURES


def is_churn(change: Change) -> bool:
    return change.kind == STATUS and change.old_status in CHURN and change.new_status in CHURN


THREAD_AGE = timedelta(hours=24)  # a deployment's day reads as one thread; then a new one starts
