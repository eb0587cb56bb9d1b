"""A promotion's vocabulary: Baseten's end statuses, the bot's own (ENDED, REPLACED), and
what the bot last saw of an environment (EnvState), shared by tracking, store and render.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ENDS = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})  # Baseten's own end statuses
ENDED = "ENDED"  # the bot's word: the promotion vanished, its candidate is not current
REPLACED = "REPLACED"  # the bot's word: another candidate took its place mid-promotion
FINAL = ENDS | {ENDED, REPLACED}


@dataclass(frozen=True)
class EnvState:
    """What the bot last saw of one environment: its current deployment and the promotion in it."""

    model_id: str
    name: str
    current_id: str | None
    current_name: str = ""
    candidate_id: str | None = None
    candidate_name: str = ""
    status: str | None = None  # the promotion's status; None: no promotion seen
    traffic: int | None = None
    error: str | None = None
    key: str | None = None  # the bot's key for this promotion (see the module docstring)
    since: datetime | None = None  # when `status` (or, without a promotion, the state) was first seen
