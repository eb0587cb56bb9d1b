"""What the lease holder's poll loop last read or wrote of each model, kept between its polls.

The loop polls one model at a time, dozens a second; reading its snapshots, model state and
recent changes from the database for every poll was most of a poll's CPU time, though a model
that did not change has nothing new to read. So the poller keeps, per model, what it last
read, and reads again only when it cannot trust that:

- after any poll that writes for the model (a change, a new replica count, a conflict), or that
  failed or was cancelled half-way: the entry is forgotten and the next poll reads afresh;
- when the model stops being watched, and when this replica takes or loses the lease: all of it.

Staleness is harmless by construction: every write is conditional on the `before` values it
was decided from (bot.store.outbox), so a change decided on an outdated entry writes nothing,
raises a conflict, and the entry is forgotten. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.changes import Snap
from bot.domain.memory import History, ModelMemory


@dataclass(frozen=True)
class _Entry:
    snaps: Mapping[str, Snap]
    state: ModelMemory | None
    history: Mapping[tuple[str, str], Sequence[datetime]]


Snaps = Mapping[str, Mapping[str, Snap]]
Read = tuple[dict[str, dict[str, Snap]], dict[str, ModelMemory], dict[tuple[str, str], list[datetime]]]


class Known:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self, model_ids: Sequence[str], window: Callable[[Mapping[str, Mapping[str, Snap]]], datetime]
    ) -> Read | None:
        """What is kept of every one of these models (None unless all are kept), with only the changes
        at or after `window(snapshots)` (the noise rules' window, which moves on with time)."""
        entries = [self._entries.get(m) for m in model_ids]
        if not model_ids or any(e is None for e in entries):
            return None
        snaps: dict[str, dict[str, Snap]] = {}
        states: dict[str, ModelMemory] = {}
        for model_id, entry in zip(model_ids, entries, strict=True):
            assert entry is not None
            if entry.snaps:
                snaps[model_id] = dict(entry.snaps)
            if entry.state is not None:
                states[model_id] = entry.state
        since = window(snaps)
        history: dict[tuple[str, str], list[datetime]] = {}
        for entry in entries:
            assert entry is not None
            for key, times in entry.history.items():
                if kept := [at for at in times if at >= since]:
                    history[key] = kept
        return snaps, states, history

    def put(
        self,
        model_ids: Iterable[str],
        snaps: Mapping[str, Mapping[str, Snap]],
        states: Mapping[str, ModelMemory],
        history: History,
    ) -> None:
        """Keeps what was just read of these models (a model with nothing known is kept as such)."""
        by_model: dict[str, dict[tuple[str, str], Sequence[datetime]]] = {}
        for key, times in history.items():
            by_model.setdefault(key[0], {})[key] = tuple(times)
        for model_id in model_ids:
            self._entries[model_id] = _Entry(
                dict(snaps.get(model_id, {})), states.get(model_id), by_model.get(model_id, {})
            )

    def forget(self, model_ids: Iterable[str]) -> None:
        for model_id in model_ids:
            self._entries.pop(model_id, None)

    def keep_only(self, model_ids: Iterable[str]) -> None:
        """Drops every model no longer watched."""
        watched = set(model_ids)
        for gone in [m for m in self._entries if m not in watched]:
            del self._entries[gone]

    def clear(self) -> None:
        self._entries.clear()
