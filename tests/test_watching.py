"""Pure: the poll loop's cache of who watches what (bot.polling.watching), with plain values and a fake clock."""

from __future__ import annotations

from bot.domain.watchers import Watcher
from bot.polling.decide import ModelPlan
from bot.polling.watching import REREAD_AT_LEAST, Watching


def watcher(sub_id: int, model: str, target: str = "*", channel: str = "C1") -> Watcher:
    return Watcher(sub_id, "T1", channel, model, target, frozenset())


def test_the_first_refresh_reads_every_watcher() -> None:
    assert Watching().stale(7, now=0.0)
    assert Watching().stale(None, now=0.0)


def test_watchers_are_read_again_only_when_the_revision_moved_or_the_deadline_passed() -> None:
    w = Watching(reread_every=REREAD_AT_LEAST)
    w.take([watcher(1, "m1")], revision=7, now=100.0)
    assert not w.stale(7, now=101.0)  # nothing changed: one small read, not every watcher
    assert w.stale(8, now=101.0)  # a subscription or mute was written
    assert w.stale(None, now=101.0)  # no revision row to compare: read anyway
    assert not w.stale(7, now=100.0 + REREAD_AT_LEAST - 0.1)
    assert w.stale(7, now=100.0 + REREAD_AT_LEAST)  # an older replica writes without moving the revision


def test_a_read_that_failed_is_tried_again_at_the_next_refresh() -> None:
    w = Watching()
    w.take([watcher(1, "m1")], revision=7, now=0.0)
    assert w.stale(8, now=5.0)  # the loop reads the watchers now; say the read fails: nothing is taken
    assert w.stale(8, now=10.0)  # so the next refresh reads them again, not REREAD_AT_LEAST later


def test_each_model_is_planned_once_with_all_its_watchers() -> None:
    w = Watching()
    watchers = [watcher(1, "m1", "*", "C1"), watcher(2, "m1", "dep1", "C2"), watcher(3, "m2", "dep9", "C1")]
    plans = w.take(watchers, revision=1, now=0.0)
    assert plans == {
        "m1": ModelPlan("m1", "", whole=True, deployments=frozenset({"dep1"}), roles=frozenset({"*"})),
        "m2": ModelPlan("m2", "", whole=False, deployments=frozenset({"dep9"})),
    }
    assert w.watchers("m1") == watchers[:2] and w.watchers("m2") == watchers[2:]
    assert w.watchers("m3") == []

    w.take([watchers[2]], revision=2, now=1.0)  # m1 unsubscribed everywhere
    assert set(w.plans) == {"m2"} and w.watchers("m1") == []


def test_after_a_lost_lease_everything_is_read_afresh() -> None:
    w = Watching()
    w.take([watcher(1, "m1")], revision=7, now=0.0)
    w.forget()
    assert w.plans == {} and w.watchers("m1") == []
    assert w.stale(7, now=1.0)  # another replica may have changed anything meanwhile
