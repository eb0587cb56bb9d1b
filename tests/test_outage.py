"""A database outage is one warning line a period with a count, a back-off, and one line when it ends."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from bot.store.outage import Outage

DOWN = OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_an_outage_is_one_line_a_period_with_counts_and_one_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    outage = Outage(period=5.0, clock=lambda: now[0])
    assert not outage.failing and outage.wait() == 0.0
    for second in range(12):  # a failure in three places every second, for 12 s
        now[0] = float(second)
        for where in ("poll", "poll", "delivery"):
            outage.failed(where, DOWN)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3  # at 0, 5 and 10 s: not 36
    assert lines[1] == (
        "the database is failing (OperationalError: 10 in poll, 5 in delivery); retrying with a back-off"
    )
    assert outage.failing and outage.wait() == 30.0  # doubled from 1 s up to the longest
    now[0] = 20.0
    outage.ok("poll")  # one place works again; the other still fails
    assert outage.failing and len(caplog.records) == 3
    outage.ok("delivery")
    assert caplog.records[-1].getMessage() == "the database answers again after 20 s and 36 failed attempts"
    assert not outage.failing and outage.wait() == 0.0
    outage.ok("poll")  # all well: nothing more is said
    assert len(caplog.records) == 4 and "Traceback" not in caplog.text
