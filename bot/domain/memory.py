"""What the bot remembers of a model between polls, and a change with the channels owed it:
the values the poller's decide phase and the store's recording transaction pass between them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.changes import Change
from bot.domain.watchers import Watcher

ModelRow = tuple[str, str, str | None, str | None]  # model id, name, production id, development id


History = Mapping[tuple[str, str], Sequence[datetime]]  # (model, deployment) -> recent status changes


@dataclass(frozen=True)
class ModelMemory:
    """What the bot knew of a model before this cycle."""

    baseline_known: bool
    production_id: str | None
    development_id: str | None
    name: str


@dataclass(frozen=True)
class Outgoing:
    """A change and the channels owed a notice about it."""

    change: Change
    model_name: str
    watchers: Sequence[Watcher]
