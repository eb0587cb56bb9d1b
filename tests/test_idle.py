"""Idle warm replicas (issue 25), the parts: who listens, which deployments are read, what counts as
idle, requests read from a metrics answer, the notice, `--on idle`, and the spell's claim in the
database (real SQLite; PostgreSQL with TEST_DATABASE_URL)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from bot.actions.buttons import notice_buttons
from bot.app.db import make_async_engine, make_sync_engine, sessions
from bot.baseten.metrics import DeploymentMetrics
from bot.commands.parse import parse_kinds
from bot.domain.changes import STATUS, Change, Snap
from bot.domain.memory import ModelMemory, Outgoing
from bot.domain.watchers import Muted, Watcher
from bot.idle.job import requests_of
from bot.idle.plan import candidates, idle_change, is_idle, listening
from bot.polling.audience import passes
from bot.render.notices import notice
from bot.store import Store
from bot.store import tables as t

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
AFTER = timedelta(hours=2)
MEMORY = {"m1": ModelMemory(True, "prod1", "dev1", "llama")}


def watcher(sid: int = 1, target: str = "*", kinds: str = "idle", **kw: Any) -> Watcher:
    return Watcher(sid, "T1", f"C{sid}", "m1", target, frozenset(k for k in kinds.split(",") if k), **kw)


def snap(
    dep: str = "prod1", status: str = "ACTIVE", replicas: int | None = 2, up_for: timedelta = AFTER, **kw: Any
) -> Snap:
    return Snap("m1", dep, dep.replace("1", ""), status, NOW - up_for, replicas=replicas, instance_type="L4", **kw)


def found(watchers: list[Watcher], *snaps: Snap) -> list[tuple[str, tuple[str, ...]]]:
    out = candidates(listening(watchers), {"m1": {s.deployment_id: s for s in snaps}}, MEMORY, {}, now=NOW, after=AFTER)
    return [(c.deployment_id, tuple(w.channel_id for w in c.watchers)) for c in out]


def test_only_subscriptions_asking_for_idle_or_all_listen() -> None:
    heard = listening([watcher(1), watcher(2, kinds="all"), watcher(3, kinds=""), watcher(4, kinds="failures")])
    assert [w.subscription_id for w in heard["m1"]] == [1, 2]
    assert listening([watcher(1, paused=True)]) == {}
    assert listening([Watcher(1, "T1", "C1", "chain:c1", "*", frozenset({"idle"}))]) == {}  # models only


def test_a_candidate_is_active_with_replicas_up_for_the_whole_window_and_heard() -> None:
    assert found([watcher()], snap()) == [("prod1", ("C1",))]
    assert found([watcher()], snap(up_for=AFTER - timedelta(seconds=1))) == []  # up for less than the window
    assert found([watcher()], snap(replicas=0)) == [] and found([watcher()], snap(replicas=None)) == []
    assert found([watcher()], snap(status="SCALED_TO_ZERO")) == [] and found([watcher()], snap(gone=True)) == []
    assert found([watcher()], snap(status="UNHEALTHY")) == []


def test_a_candidate_is_heard_only_by_channels_whose_target_covers_it_and_that_are_not_muted() -> None:
    assert found([watcher(1, target="production"), watcher(2, target="dev1")], snap()) == [("prod1", ("C1",))]
    assert found([watcher(1, target="development")], snap()) == []
    muted = watcher(1, mutes=(Muted("*", NOW + timedelta(hours=1)),))
    assert found([muted], snap()) == []
    assert found([watcher(1, target="env:staging")], snap()) == []  # staging has no current deployment here


@pytest.mark.parametrize(
    ("requests", "window", "idle"),
    [
        (0, AFTER, True),
        (2, AFTER, True),  # one an hour on average: a probe, not traffic
        (3, AFTER, False),
        (0.5, timedelta(minutes=30), True),
        (1, timedelta(minutes=30), False),
        (0, timedelta(seconds=3), True),
    ],
)
def test_idle_is_at_most_one_request_an_hour(requests: float, window: timedelta, idle: bool) -> None:
    assert is_idle(requests, window) is idle


def metrics(requests: list[Any] | None, replicas: float | None = 2) -> DeploymentMetrics:
    """A SUMMARY answer as GetDeploymentMetricsResponseV1 shapes it: replicas, and requests by status class."""
    descriptors: list[dict[str, Any]] = [{"name": "baseten_replicas_active", "unit_hint": "COUNT", "label_sets": [{}]}]
    values: list[list[Any]] = [[replicas]]
    if requests is not None:
        descriptors.append(
            {"name": "baseten_inference_requests_total", "unit_hint": "COUNT", "label_sets": [{"status": "2xx"}]}
        )
        values.append(requests)
    return DeploymentMetrics.model_validate(
        {
            "mode": "SUMMARY",
            "start_epoch_millis": 0,
            "end_epoch_millis": 7_200_000,
            "metric_descriptors": descriptors,
            "metric_values": [{"start_epoch_millis": 0, "values": values}],
        }
    )


def test_requests_are_read_from_the_summary_and_no_data_while_replicas_are_up_is_none_served() -> None:
    assert requests_of(metrics([4.0])) == 4.0
    assert requests_of(metrics([None])) == 0.0  # a counter with no series: nothing was served
    assert requests_of(metrics([None], replicas=None)) is None  # nothing reported at all: no verdict
    assert requests_of(metrics(None)) is None  # no request counts in the answer: no verdict


def idle_notice(**detail: Any) -> Change:
    base = {"replicas": 2, "requests": 0, "minutes": 120, "instance_type": "1x L4", "min_replica": 1}
    return idle_change("m1", "prod1", "v3", now=NOW, after=AFTER, detail={**base, **detail})


def test_the_notice_says_replicas_requests_and_cost_a_day_in_decimals_with_scale_to_zero() -> None:
    change = idle_notice(per_minute="0.0125", per_day="36.000")
    actions = notice_buttons(change, "llama")
    message = notice(change, model_name="llama", now=NOW, actions=actions)
    assert message.text == "llama / v3: idle for 2h, 2 replicas up, 0 requests; about $36.00 a day"
    shown = json.dumps(message.blocks)
    assert "USD, rounded half up to the cent" in shown and "*Min replicas*\\n1" in shown
    assert "*Price a minute*\\n$0.0125 a replica" in shown  # a sub-cent price as Baseten gives it, not $0.01
    assert [b["action_id"] for b in actions] == ["act_ask_scale_to_zero"]
    assert notice_buttons(idle_notice(min_replica=0), "llama") == []  # scales to zero already
    assert notice_buttons(idle_notice(min_replica=None), "llama") == []  # not known: never offered on a guess


def test_a_notice_without_a_price_says_why_and_no_number() -> None:
    change = idle_notice(price_note="this API key may not read Baseten's prices")
    message = notice(change, model_name="llama", now=NOW)
    assert message.text.endswith("; cost not known") and "$" not in message.text
    assert "may not read Baseten" in json.dumps(message.blocks)
    assert (
        "<!channel>" not in notice(idle_notice(instance_type="<!channel>"), model_name="x", now=NOW).blocks.__repr__()
    )


def test_idle_notices_are_heard_only_when_asked_for() -> None:
    change = idle_notice()
    assert not passes(frozenset(), change)  # the default: not news
    assert passes({"idle"}, change) and passes({"all"}, change)
    assert not passes({"failures", "deploys", "scaling", "ACTIVE"}, change)
    assert not passes({"idle"}, Change(STATUS, "m1", "d1", "v3", "ACTIVE", "UNHEALTHY", NOW))
    assert parse_kinds("failures, idle", frozenset({"ACTIVE"})) == {"failures", "idle"}


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Store]:
    engine = make_async_engine(db_url)
    yield Store(sessions(engine), now=lambda: NOW)
    await engine.dispose()


def subscribed(db_url: str) -> list[Watcher]:
    engine = make_sync_engine(db_url)
    with sa.orm.Session(engine) as session, session.begin():
        session.add(t.Subscription(id=1, team_id="T1", channel_id="C1", model_id="m1", target="*", created_at=NOW))
    engine.dispose()
    return [watcher(1)]


def deliveries(db_url: str) -> int:
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM deliveries")).scalar_one()
    engine.dispose()
    return int(count)


async def test_a_spell_is_announced_once_until_it_ends_then_the_next_is_announced(store: Store, db_url: str) -> None:
    outgoing = [Outgoing(idle_notice(), "llama", subscribed(db_url))]
    since = NOW - AFTER
    assert await store.idle.announce(("m1", "prod1"), since, outgoing)
    assert not await store.idle.announce(("m1", "prod1"), since, outgoing)  # another replica, a later pass
    assert await store.idle.announced() == {("m1", "prod1"): since}
    assert deliveries(db_url) == 1
    assert await store.idle.end([("m1", "prod1"), ("m1", "other")]) == 1
    assert await store.idle.announced() == {}
    assert await store.idle.announce(("m1", "prod1"), NOW, outgoing)  # a new spell
    assert deliveries(db_url) == 2
