"""The poll loop's rounds (bot.polling.rounds): what the cycle metrics and the `cycle:` log line count,
with plain values and a fake clock."""

from __future__ import annotations

from bot.polling.poller import CycleReport
from bot.polling.rounds import Rounds


class Ended:
    def __init__(self) -> None:
        self.rounds: list[tuple[CycleReport, float]] = []

    def __call__(self, report: CycleReport, took: float) -> None:
        self.rounds.append((report, took))


def ok(changes: int = 0) -> CycleReport:
    return CycleReport(models=1, changes=changes, deliveries_created=changes)


def test_the_first_round_is_empty_and_ends_at_the_first_refresh() -> None:
    ended = Ended()
    rounds = Rounds(ended, now=10.0)
    rounds.end(10.5, watched={"m1", "m2"})
    assert ended.rounds == [(CycleReport(), 0.5)]
    assert rounds.pending == {"m1", "m2"} and rounds.started == 10.5


def test_a_round_ends_when_every_model_watched_at_its_start_was_polled_since() -> None:
    ended = Ended()
    rounds = Rounds(ended, now=0.0)
    rounds.end(0.0, watched={"m1", "m2"})
    watched = {"m1", "m2", "m3"}  # m3 subscribed during the round: it waits for the next
    rounds.count("m1", began=1.0, report=ok(changes=2), now=2.0, watched=watched)
    assert len(ended.rounds) == 1
    rounds.count("m1", began=2.0, report=ok(), now=3.0, watched=watched)  # polled again: counted once
    failed = CycleReport(models=1, failed_models=1, errors=["m2: timed out"])
    rounds.count("m2", began=3.0, report=failed, now=5.0, watched=watched)
    report, took = ended.rounds[-1]
    assert took == 5.0
    assert (report.models, report.failed_models, report.changes, report.deliveries_created) == (2, 1, 2, 2)
    assert report.errors == ["m2: timed out"]
    assert rounds.pending == watched and rounds.started == 5.0


def test_a_poll_begun_before_the_round_does_not_count_in_it() -> None:
    ended = Ended()
    rounds = Rounds(ended, now=0.0)
    rounds.end(4.0, watched={"m1"})
    rounds.count("m1", began=3.9, report=ok(), now=4.2, watched={"m1"})  # it read what was there before
    assert rounds.pending == {"m1"} and len(ended.rounds) == 1
    rounds.count("m1", began=4.3, report=ok(), now=4.8, watched={"m1"})
    assert len(ended.rounds) == 2


def test_a_model_no_longer_watched_is_not_waited_for() -> None:
    ended = Ended()
    rounds = Rounds(ended, now=0.0)
    rounds.end(0.0, watched={"m1", "m2"})
    rounds.count("m1", began=1.0, report=ok(), now=1.5, watched={"m1", "m2"})
    rounds.keep_only({"m1"})  # m2 unsubscribed
    rounds.end(2.0, watched={"m1"})  # the loop's refresh
    assert [r.models for r, _ in ended.rounds] == [0, 1]
