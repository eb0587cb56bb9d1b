"""Following the poller lease (bot.polling.leadership): a lease with plain values and a fake clock.
On the real database and the real loop: test_lease, and the lease-loss tests in test_poll_loop."""

from __future__ import annotations

import pytest

from bot.polling.leadership import Leadership

LOOK = 1.0


class FakeLease:
    """The lease as the loop sees it: who holds the row is the test's to say."""

    def __init__(self) -> None:
        self.held = False
        self.term = 0
        self.elsewhere = False  # another replica holds the row
        self.broken: Exception | None = None  # the database fails
        self.tries = 0  # renewals: each an UPDATE
        self.looks = 0  # looks: each a read

    async def renew(self) -> bool:
        self.tries += 1
        if self.broken is not None or self.elsewhere:
            self.held = False
            if self.broken is not None:
                raise self.broken
            return False
        if not self.held:
            self.term += 1
        self.held = True
        return True

    async def free(self) -> bool:
        self.looks += 1
        if self.broken is not None:
            raise self.broken
        return not self.elsewhere


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Follower:
    """A Leadership over a FakeLease, recording what it was told, in order."""

    def __init__(self) -> None:
        self.lease = FakeLease()
        self.clock = Ticks()
        self.said: list[str] = []
        self.shown: list[bool] = []
        self.lead = Leadership(
            self.lease,
            on_gain=lambda: self.said.append("gain"),
            on_loss=self.lost,
            look_every=LOOK,
            shown=self.shown.append,
            clock=self.clock,
        )

    async def lost(self) -> None:
        self.said.append("loss")


async def test_at_start_it_tries_once_and_leads_once_it_holds_the_lease() -> None:
    f = Follower()
    await f.lead.take()
    assert f.lease.tries == 1
    assert await f.lead.follow() and await f.lead.follow()
    assert f.said == ["gain"] and f.shown == [True, True]


async def test_a_loss_is_told_once() -> None:
    f = Follower()
    await f.lead.take()
    await f.lead.follow()
    f.lease.held = False  # the clock ran out, or a renewal failed
    f.lease.elsewhere = True
    assert not await f.lead.follow()
    assert not await f.lead.follow()
    assert f.said == ["gain", "loss"] and f.shown == [True, False, False]


async def test_a_lease_lost_and_taken_again_between_two_follows_is_a_loss_then_a_gain() -> None:
    f = Follower()
    await f.lead.take()
    await f.lead.follow()
    f.lease.term += 1  # held again, but not without a gap: another replica may have polled meanwhile
    assert await f.lead.follow()
    assert f.said == ["gain", "loss", "gain"]


async def test_a_standby_looks_at_its_pace_and_tries_only_when_the_lease_is_free() -> None:
    f = Follower()
    f.lease.elsewhere = True
    await f.lead.take()
    for _ in range(12):  # three seconds of the loop following, four times a second
        f.clock.now += 0.25
        assert not await f.lead.follow()
    assert f.lease.looks == 3 and f.lease.tries == 1  # the try at start; the lease job's are not its own
    f.lease.elsewhere = False  # released by a clean stop, or expired
    f.clock.now += LOOK
    assert await f.lead.follow()
    assert f.lease.tries == 2 and f.said == ["gain"]


async def test_a_failing_database_leaves_it_a_standby_and_raises_nothing(caplog: pytest.LogCaptureFixture) -> None:
    f = Follower()
    f.lease.broken = OSError("connection refused")
    await f.lead.take()
    assert "taking the poller lease failed; the lease job tries again" in caplog.messages
    f.clock.now += LOOK
    assert not await f.lead.follow()
    assert f.lease.looks == 1 and f.said == []
