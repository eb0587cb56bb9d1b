"""Deployment status vocabulary: the known values and the family each belongs to."""

from __future__ import annotations

from enum import Enum


class Family(Enum):
    HEALTHY = "healthy"
    IN_PROGRESS = "in progress"
    SCALED_TO_ZERO = "scaled to zero"
    FAILED = "failed"
    INACTIVE = "inactive"
    GONE = "deleted"
    UNKNOWN = "unknown"


# A training job's `current_status` (docs.baseten.co/training/lifecycle): PENDING (queued for GPUs),
# CREATED, DEPLOYING and RUNNING are active; COMPLETED, DEPLOY_FAILED, FAILED and STOPPED end it.
# The spec keeps it a free string: a value not here is shown as Baseten gives it (Family.UNKNOWN).
JOB_PENDING = "TRAINING_JOB_PENDING"
JOB_RUNNING = "TRAINING_JOB_RUNNING"
JOB_COMPLETED = "TRAINING_JOB_COMPLETED"
JOB_STOPPED = "TRAINING_JOB_STOPPED"
JOB_FAILURES = frozenset({"TRAINING_JOB_FAILED", "TRAINING_JOB_DEPLOY_FAILED"})
JOB_ACTIVE = frozenset({JOB_PENDING, "TRAINING_JOB_CREATED", "TRAINING_JOB_DEPLOYING", JOB_RUNNING})
JOB_STATUSES = JOB_ACTIVE | JOB_FAILURES | {JOB_COMPLETED, JOB_STOPPED}

FAILURES = frozenset({"BUILD_FAILED", "DEPLOY_FAILED", "FAILED", "UNHEALTHY"}) | JOB_FAILURES
# in motion: polled every HOT_POLL_SECONDS (a running job too: its end is heard in seconds)
IN_PROGRESS = (
    frozenset({"BUILDING", "DEPLOYING", "LOADING_MODEL", "UPDATING", "WAKING_UP", "DEACTIVATING"}) | JOB_ACTIVE
)
INACTIVE = frozenset({"INACTIVE", "BUILD_STOPPED", JOB_STOPPED})
# Healthy scale-to-zero churn: a deployment cycling among these is not news by default.
CHURN = frozenset({"ACTIVE", "SCALED_TO_ZERO", "WAKING_UP"})
DELETED = "DELETED"  # not a Baseten status: the bot's word for "gone from the API"

KNOWN = frozenset(
    {
        "BUILDING",
        "DEPLOYING",
        "DEPLOY_FAILED",
        "LOADING_MODEL",
        "ACTIVE",
        "UNHEALTHY",
        "BUILD_FAILED",
        "BUILD_STOPPED",
        "DEACTIVATING",
        "INACTIVE",
        "FAILED",
        "UPDATING",
        "SCALED_TO_ZERO",
        "WAKING_UP",
    }
    | JOB_STATUSES
)

_EMOJI = {
    Family.HEALTHY: ":large_green_circle:",
    Family.IN_PROGRESS: ":hourglass_flowing_sand:",
    Family.SCALED_TO_ZERO: ":zzz:",
    Family.FAILED: ":red_circle:",
    Family.INACTIVE: ":white_circle:",
    Family.GONE: ":wastebasket:",
    Family.UNKNOWN: ":grey_question:",
}


def family(status: str) -> Family:
    if status in ("ACTIVE", JOB_COMPLETED):
        return Family.HEALTHY
    if status == "SCALED_TO_ZERO":
        return Family.SCALED_TO_ZERO
    if status in FAILURES:
        return Family.FAILED
    if status in IN_PROGRESS:
        return Family.IN_PROGRESS
    if status in INACTIVE:
        return Family.INACTIVE
    if status == DELETED:
        return Family.GONE
    return Family.UNKNOWN


def emoji(status: str) -> str:
    return _EMOJI[family(status)]
