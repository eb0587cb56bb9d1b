"""The poll loop's rounds: what the cycle metrics and the `cycle:` log line count.

Models are polled one at a time as each falls due, so there is no cycle to time by itself.
A *round* begins with the models watched at its start and ends when every one of them has
been polled since (or stopped being watched); the next begins at once, with the models
watched then. Each poll that counts adds its report to the round's; `on_round` receives
the round's report and how long it took.

No I/O and no clock of its own: the loop passes `now` (seconds, any monotonic origin).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from bot.polling.poller import CycleReport


class Rounds:
    def __init__(self, on_round: Callable[[CycleReport, float], None], now: float) -> None:
        self._on_round = on_round
        # the first round waits for nothing: it ends at the first refresh, which starts one with
        # every model then watched (bench/run.py waits for that empty round to know the loop began)
        self.started = now
        self.pending: set[str] = set()
        self.report = CycleReport()

    def keep_only(self, watched: Collection[str]) -> None:
        """Models no longer watched are not waited for."""
        self.pending &= set(watched)

    def count(self, model: str, began: float, report: CycleReport, now: float, watched: Collection[str]) -> None:
        """A poll of `model` that began at `began` ended with `report`: it counts once, if the round
        was waiting for the model and the poll began within the round (one begun before read older state)."""
        if began >= self.started and model in self.pending:
            self.pending.discard(model)
            add(self.report, report)
        self.end(now, watched)

    def end(self, now: float, watched: Collection[str]) -> None:
        """Ends the round if nothing is pending, and begins the next with the models watched now."""
        if self.pending:
            return
        report, took = self.report, now - self.started
        self.started, self.pending, self.report = now, set(watched), CycleReport()
        self._on_round(report, took)


def add(total: CycleReport, one: CycleReport) -> None:
    """One poll's report into its round's (what was sent is the delivery's, not a poll's)."""
    total.models += one.models
    total.failed_models += one.failed_models
    total.changes += one.changes
    total.deliveries_created += one.deliveries_created
    total.conflict |= one.conflict
    total.errors += one.errors
