"""What the poll loop says in the log (bot.polling.notes), throttled: plain values, a fake clock,
and the poller's side recorded."""

from __future__ import annotations

import logging

import pytest

from bot.polling.decide import Failed, Fetched, ModelPlan
from bot.polling.notes import Notes
from bot.polling.schedule import Stats

PLAN = ModelPlan("m1", "llama", whole=True, deployments=frozenset())
FAILED = Failed("timed out")


class Poller:
    def __init__(self) -> None:
        self.last_auth_error: str | None = None
        self.lines: list[list[tuple[ModelPlan, Fetched]]] = []

    def note_failures(self, answers: list[tuple[ModelPlan, Fetched]]) -> None:
        self.lines.append(answers)


def stats(models: int, bound: float) -> Stats:
    return Stats(models=models, hot=0, requests_per_round=models, rate=1.0, bound=bound, cold=60.0)


def test_failures_are_said_at_once_after_a_quiet_spell_then_once_a_period() -> None:
    poller = Poller()
    notes = Notes(poller, every=5.0, max_rps=20)
    notes.answered(PLAN, FAILED, now=100.0)
    assert len(poller.lines) == 1  # the first failure after a quiet spell: at once
    notes.answered(PLAN, FAILED, now=101.0)
    notes.answered(PLAN, [], now=102.0)
    assert len(poller.lines) == 1  # within the period: gathered
    notes.answered(PLAN, FAILED, now=105.0)
    assert len(poller.lines) == 2 and len(poller.lines[1]) == 3


def test_a_refresh_says_what_was_gathered_and_a_key_that_works_again_is_said_at_once() -> None:
    poller = Poller()
    notes = Notes(poller, every=5.0, max_rps=20)
    notes.answered(PLAN, FAILED, now=0.0)
    notes.answered(PLAN, FAILED, now=1.0)
    notes.refresh(2.0, stats(1, 1.0))
    assert [len(line) for line in poller.lines] == [1, 1]
    notes.refresh(3.0, stats(1, 1.0))
    assert len(poller.lines) == 2  # nothing new: no line
    poller.last_auth_error = "Baseten refused the API key"
    notes.answered(PLAN, [], now=4.0)
    assert len(poller.lines) == 3


def test_the_interval_is_said_once_when_it_cannot_be_kept_and_once_when_it_can_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    notes = Notes(Poller(), every=5.0, max_rps=20)
    notes.refresh(0.0, stats(100, 90.0))
    notes.refresh(5.0, stats(100, 90.0))
    notes.refresh(10.0, stats(10, 9.0))
    assert caplog.messages == [
        "100 watched models take 100 requests to poll once: at BASETEN_MAX_RPS=20 a model with nothing in "
        "motion is polled about every 90s, not every POLL_INTERVAL_SECONDS (60); none waits longer than that "
        "past its turn, and hot ones go first",
        "every watched model is polled within POLL_INTERVAL_SECONDS (60) again",
    ]
