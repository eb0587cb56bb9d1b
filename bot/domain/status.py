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


FAILURES = frozenset({"BUILD_FAILED", "DEPLOY_FAILED", "FAILED", "UNHEALTHY"})
IN_PROGRESS = frozenset({"BUILDING", "DEPLOYING", "LOADING_MODEL", "UPDATING", "WAKING_UP", "DEACTIVATING"})
INACTIVE = frozenset({"INACTIVE", "BUILD_STOPPED"})
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
    if status == "ACTIVE":
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
