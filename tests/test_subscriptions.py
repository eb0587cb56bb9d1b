"""Subscriptions and the poller against the fakes, with a real SQLite file: what channels are told."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from bot.app.db import make_sync_engine
from bot.polling.decide import plan
from tests.conftest import DEV, MODEL, MODEL_NAME, OLD, PROD, on_postgres
from tests.fakes import API_KEY, TEAM, Canned, FakeBaseten, FakeSlack, deployment
from tests.world import World


@pytest.fixture
async def world(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> AsyncIterator[World]:
    w = World(baseten, slack, db_url)
    yield w
    await w.close()


def notices(slack: FakeSlack, channel: str | None = None) -> list[str]:
    return [p["text"] for p in slack.posts() if channel is None or p["channel"] == channel]


async def test_subscribe_answers_in_channel_with_the_current_status(world: World) -> None:
    message, kind = await world.command(f"subscribe {MODEL_NAME} {PROD}")
    assert kind == "in_channel"
    text = json.dumps(message.blocks)
    assert "subscribed this channel" in text and "ACTIVE" in text and "v3" in text
    again, kind = await world.command(f"subscribe {MODEL} {PROD}")
    assert kind == "ephemeral" and "already subscribed" in again.text


async def test_subscribe_refuses_what_baseten_cannot_confirm(world: World, baseten: FakeBaseten) -> None:
    message, kind = await world.command(f"subscribe {MODEL} nosuchdep")
    assert kind == "ephemeral" and "no deployment" in message.text
    baseten.script("/v1/", *[Canned(503, {"error": "down"})] * 10)
    message, _ = await world.command(f"subscribe {MODEL} {PROD}")
    assert "not answering" in message.text
    baseten.scripted.clear()
    listing, _ = await world.command("list")
    assert "no subscriptions" in listing.text


async def test_one_notice_per_channel_then_silence(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD}", channel="C1")
    await world.command(f"subscribe {MODEL} {PROD}", channel="C2")
    await world.cycle()
    assert notices(slack) == []  # subscribing recorded a silent baseline
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    report = await world.cycle()
    assert report.changes == 1 and report.sent == 2
    assert notices(slack, "C1") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]
    assert notices(slack, "C2") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]
    again = await world.cycle()
    assert again.changes == 0 and len(slack.posts()) == 2


async def test_unsubscribe_stops_notices(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD}", channel="C1")
    await world.command(f"subscribe {MODEL} {PROD}", channel="C2")
    message, kind = await world.command(f"unsubscribe {MODEL_NAME} v3", channel="C1")
    assert kind == "in_channel" and "unsubscribed" in json.dumps(message.blocks)
    missing, _ = await world.command(f"unsubscribe {MODEL} {PROD}", channel="C1")
    assert "not subscribed" in missing.text
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.cycle()
    assert notices(slack, "C1") == [] and len(notices(slack, "C2")) == 1


async def test_whole_model_catches_new_and_deleted_deployments(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command(f"subscribe {MODEL}")
    baseten.add_deployment(deployment("dep4new", MODEL, name="v4", status="BUILDING"))
    await world.cycle()
    assert notices(slack) == ["llama-3-8b / v4: new deployment → BUILDING"]
    baseten.set_status(MODEL, "dep4new", "DEPLOYING")
    await world.cycle()
    assert notices(slack)[-1] == "llama-3-8b / v4: BUILDING → DEPLOYING"
    baseten.delete_deployment(MODEL, OLD)
    await world.cycle()
    await world.cycle()
    assert notices(slack)[-1] == "llama-3-8b / v2: INACTIVE → DELETED (deployment deleted)"
    assert len(notices(slack)) == 3


async def test_scale_to_zero_churn_is_quiet_by_default(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL}", channel="C1")
    await world.command(f"subscribe {MODEL} --on scaling", channel="C2")
    for status in ("SCALED_TO_ZERO", "WAKING_UP", "ACTIVE"):
        baseten.set_status(MODEL, PROD, status)
        await world.cycle()
    assert notices(slack, "C1") == []
    assert len(notices(slack, "C2")) == 3
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.cycle()
    assert notices(slack, "C1") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]


async def test_production_follows_promotions(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} production")
    baseten.set_status(MODEL, OLD, "ACTIVE")
    await world.cycle()
    assert notices(slack) == []  # not production: not heard
    baseten.promote(MODEL, OLD)
    await world.cycle()
    assert notices(slack) == ["llama-3-8b / v2: promoted → production (was v3)"]
    baseten.set_status(MODEL, PROD, "INACTIVE")  # the old production: no longer followed
    baseten.set_status(MODEL, OLD, "UNHEALTHY")
    await world.cycle()
    assert notices(slack)[1:] == ["llama-3-8b / v2: ACTIVE → UNHEALTHY"]


async def test_three_channels_on_one_deployment_cost_one_request_per_cycle(world: World, baseten: FakeBaseten) -> None:
    for channel in ("C1", "C2", "C3"):
        await world.command(f"subscribe {MODEL} {PROD}", channel=channel)
    before = baseten.count()
    await world.cycle()
    assert baseten.count() - before == 1
    assert baseten.requests[-1].path == f"/v1/models/{MODEL}/deployments/{PROD}"


async def test_many_targets_on_one_model_are_one_list_request(world: World, baseten: FakeBaseten) -> None:
    await world.command(f"subscribe {MODEL} {PROD}", channel="C1")
    await world.command(f"subscribe {MODEL} {DEV}", channel="C2")
    await world.command(f"subscribe {MODEL} production", channel="C3")
    await world.command(f"subscribe {MODEL}", channel="C4")
    before = len(baseten.requests)
    await world.cycle()
    # one list for all four; `production` is an environment, so its promotions are read too, once
    assert sorted(r.path for r in baseten.requests[before:]) == [
        f"/v1/models/{MODEL}/deployments",
        f"/v1/models/{MODEL}/environments",
    ]


@pytest.mark.parametrize(
    "fault",
    [
        Canned(500, {"error": "boom"}),
        Canned(429, {"error": "slow down", "retry_after": 0}),
        Canned(200, raw=b"<html>not json</html>", off_spec=True),
        Canned(200, {"deployments": [{"id": "dep1prod"}]}, off_spec=True),  # a garbled entry: no status
        Canned(200, delay=3.0, body={"deployments": []}),  # slower than the client's timeout
    ],
)
async def test_baseten_faults_record_nothing_and_the_next_cycle_catches_up(
    world: World, baseten: FakeBaseten, slack: FakeSlack, fault: Canned
) -> None:
    await world.command(f"subscribe {MODEL}")
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    baseten.script(f"/v1/models/{MODEL}/deployments", *[fault] * 4)
    report = await world.cycle()
    assert report.failed_models == 1 and report.changes == 0
    assert notices(slack) == []
    listing, _ = await world.command("list")
    assert "UNHEALTHY" not in json.dumps(listing.blocks)  # the snapshot did not move
    baseten.scripted.clear()
    report = await world.cycle()
    assert notices(slack) == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]


async def test_a_404_deployment_is_announced_deleted_once(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {DEV}")
    baseten.delete_deployment(MODEL, DEV)
    await world.cycle()
    await world.cycle()
    assert notices(slack) == ["llama-3-8b / dev: BUILDING → DELETED (deployment deleted)"]


async def test_slack_429_and_5xx_are_retried_and_sent_once(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command(f"subscribe {MODEL} {PROD}", channel="C1")
    await world.command(f"subscribe {MODEL} {PROD}", channel="C2")
    slack.script(
        "chat.postMessage",
        Canned(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"}),
        Canned(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "1"}),
        Canned(503, raw=b"upstream unavailable"),
        Canned(503, raw=b"upstream unavailable"),
    )
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    first = await world.cycle()
    assert first.sent == 0
    counts = await world.store.outbox.counts()
    assert counts == {"pending": 2}
    world.clock.advance(minutes=10)
    await world.notifier.deliver_due()
    assert sorted(p["channel"] for p in slack.posts()) == ["C1", "C2"]
    world.clock.advance(minutes=10)
    await world.cycle()
    assert len(slack.posts()) == 2
    assert await world.store.outbox.counts() == {"sent": 2}


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived"])
async def test_permanent_channel_error_pauses_and_list_says_why(
    world: World, baseten: FakeBaseten, slack: FakeSlack, error: str
) -> None:
    await world.command(f"subscribe {MODEL} {PROD}", channel="C1")
    await world.command(f"subscribe {MODEL} {PROD}", channel="C2")
    slack.script("chat.postMessage", Canned(200, {"ok": False, "error": error}))
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.cycle()
    paused_channel = next(r.body["channel"] for r in slack.calls("chat.postMessage") if not r.ok)
    listing, _ = await world.command("list", channel=paused_channel)
    assert "paused" in json.dumps(listing.blocks) and error in json.dumps(listing.blocks)
    baseten.set_status(MODEL, PROD, "ACTIVE")
    await world.cycle()
    assert notices(slack, paused_channel) == []  # nothing more is tried there
    other = "C2" if paused_channel == "C1" else "C1"
    assert len(notices(slack, other)) == 2
    resumed, kind = await world.command(f"resume {MODEL}", channel=paused_channel)
    assert kind == "in_channel" and "resumed 1" in json.dumps(resumed.blocks)
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.cycle()
    assert notices(slack, paused_channel) == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]  # nothing replayed


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked", "account_inactive"])
async def test_workspace_error_stops_delivery_and_keeps_notices(
    world: World, baseten: FakeBaseten, slack: FakeSlack, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    await world.command(f"subscribe {MODEL} {PROD}", channel="C1")
    await world.command(f"subscribe {MODEL} {PROD}", channel="C2")
    slack.script("chat.postMessage", *[Canned(200, {"ok": False, "error": error})] * 2)
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.cycle()
    tried = len(slack.calls("chat.postMessage"))
    assert tried <= 2  # at most the calls already under way when Slack first refused
    baseten.set_status(MODEL, PROD, "ACTIVE")
    await world.cycle()
    assert len(slack.calls("chat.postMessage")) == tried  # nothing more is tried
    assert world.notifier.disabled_workspaces == {TEAM: error}
    assert (await world.store.outbox.counts()) == {"pending": 4}  # kept for when the token is fixed
    assert sum(error in r.getMessage() for r in caplog.records) == 1


async def test_restart_resumes_pending_and_catches_changes_made_while_down(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str
) -> None:
    first = World(baseten, slack, db_url)
    await first.command(f"subscribe {MODEL} {PROD}", channel="C1")
    slack.script("chat.postMessage", Canned(500, raw=b"down"))
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await first.cycle()  # Slack fails: the notice stays pending
    clock = first.clock
    await first.close()
    baseten.set_status(MODEL, DEV, "ACTIVE")  # a change while the bot is down (not watched here)
    await World(baseten, slack, db_url, clock).command(f"subscribe {MODEL} {DEV}", channel="C1")
    baseten.set_status(MODEL, PROD, "ACTIVE")
    second = World(baseten, slack, db_url, clock)
    clock.advance(minutes=10)
    await second.cycle()
    assert notices(slack) == ["llama-3-8b / v3: ACTIVE → UNHEALTHY", "llama-3-8b / v3: UNHEALTHY → ACTIVE"]
    await second.close()


async def test_list_shows_subscriptions_and_status_per_channel_and_workspace(world: World) -> None:
    await world.command(f"subscribe {MODEL} {PROD} --on failures,recoveries --no-thread", channel="C1")
    await world.command(f"subscribe {MODEL}", channel="C1")
    await world.command(f"subscribe {MODEL} production", channel="C2")
    listing, kind = await world.command("list", channel="C1")
    text = json.dumps(listing.blocks)
    assert kind == "ephemeral"
    assert "(2)" in text and "failures, recoveries" in text and "no threads" in text and "all deployments" in text
    assert "ACTIVE" in text
    other_team, _ = await world.command("list", channel="C1", team="T0OTHER")
    assert "no subscriptions" in other_team.text


async def test_mute_records_but_does_not_announce(world: World, baseten: FakeBaseten, slack: FakeSlack) -> None:
    await world.command(f"subscribe {MODEL} {PROD}")
    message, kind = await world.command(f"mute {MODEL} {PROD} 30m")
    assert kind == "in_channel" and "muted" in json.dumps(message.blocks)
    listing, _ = await world.command("list")
    assert "muted until" in json.dumps(listing.blocks)
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.cycle()
    assert notices(slack) == []
    world.clock.advance(minutes=31)
    await world.cycle()
    assert notices(slack) == []  # not replayed after the mute
    baseten.set_status(MODEL, PROD, "ACTIVE")
    await world.cycle()
    assert notices(slack) == ["llama-3-8b / v3: UNHEALTHY → ACTIVE"]


async def test_a_refused_key_is_logged_once_not_per_cycle_or_model(
    world: World, baseten: FakeBaseten, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    await world.command(f"subscribe {MODEL}")
    baseten.api_key = "rotated-key"  # the bot's key no longer works: every request is 401
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    for _ in range(3):
        report = await world.cycle()
        assert report.failed_models == 1 and report.changes == 0
    assert sum("rejected the API key" in r.getMessage() for r in caplog.records) == 1
    assert world.poller.last_auth_error is not None and "401" in world.poller.last_auth_error
    assert notices(slack) == []
    baseten.api_key = API_KEY
    await world.cycle()
    assert world.poller.last_auth_error is None
    assert notices(slack) == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]


async def test_changes_made_while_paused_are_not_replayed_after_a_restart_and_resume(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str
) -> None:
    first = World(baseten, slack, db_url)
    await first.command(f"subscribe {MODEL} {PROD}", channel="C1")  # the model's only subscriber
    slack.channel_errors["C1"] = "not_in_channel"
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await first.cycle()  # refused: the channel pauses
    baseten.set_status(MODEL, PROD, "BUILD_FAILED")  # changed while paused
    await first.cycle()
    listing, _ = await first.command("list", channel="C1")
    assert "paused" in json.dumps(listing.blocks)
    assert "BUILD_FAILED" in json.dumps(listing.blocks) and "UNHEALTHY" not in json.dumps(listing.blocks)
    clock = first.clock
    await first.close()

    del slack.channel_errors["C1"]
    second = World(baseten, slack, db_url, clock)  # a restart, then the channel resumes
    resumed, _ = await second.command(f"resume {MODEL}", channel="C1")
    assert "resumed 1" in json.dumps(resumed.blocks)
    await second.cycle()
    await second.cycle()
    assert notices(slack) == []  # the gap is not announced as a fresh change
    clock.advance(hours=2)
    baseten.set_status(MODEL, PROD, "ACTIVE")
    await second.cycle()
    assert notices(slack) == ["llama-3-8b / v3: BUILD_FAILED → ACTIVE"]
    fields = json.dumps(slack.posts()[0]["blocks"])
    assert "Time in BUILD_FAILED" in fields and "2h 3m" in fields  # since it was seen, while paused
    await second.close()


async def test_muting_a_model_silences_every_subscription_to_it_in_the_channel(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command(f"subscribe {MODEL}", channel="C1")
    await world.command(f"subscribe {MODEL} {PROD}", channel="C1")  # overlaps the whole-model one
    await world.command(f"subscribe {MODEL} {PROD}", channel="C2")
    message, kind = await world.command(f"mute {MODEL} 1h", channel="C1")
    assert kind == "in_channel" and "all deployments" in json.dumps(message.blocks)
    listing, _ = await world.command("list", channel="C1")
    assert json.dumps(listing.blocks).count("muted until") == 2  # on both of its subscriptions
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    baseten.set_status(MODEL, DEV, "ACTIVE")
    baseten.add_deployment(deployment("dep4new", MODEL, name="v4", status="BUILD_FAILED"))
    await world.cycle()
    assert notices(slack, "C1") == []
    assert notices(slack, "C2") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]  # another channel's mute
    world.clock.advance(hours=1)
    baseten.set_status(MODEL, PROD, "ACTIVE")
    await world.cycle()
    assert notices(slack, "C1") == ["llama-3-8b / v3: UNHEALTHY → ACTIVE"]  # the mute ended, nothing replayed


async def test_one_deployment_of_a_watched_model_can_be_muted_on_its_own(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command(f"subscribe {MODEL}")
    message, kind = await world.command(f"mute {MODEL} v3 2h")  # by name, under the whole-model subscription
    assert kind == "in_channel" and "v3" in json.dumps(message.blocks)
    listing, _ = await world.command("list")
    assert "v3" in json.dumps(listing.blocks) and "muted until" in json.dumps(listing.blocks)
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    baseten.set_status(MODEL, DEV, "ACTIVE")
    await world.cycle()
    assert notices(slack) == ["llama-3-8b / dev: BUILDING → ACTIVE"]  # the rest of the model is heard

    other, kind = await world.command(f"unmute {MODEL} {DEV}")
    said = json.dumps(other.blocks)
    assert kind == "ephemeral" and "Nothing to unmute" in said and "v3" in said and "<!date^" in said
    message, kind = await world.command(f"unmute {MODEL} {PROD}")
    assert kind == "in_channel" and "unmuted" in json.dumps(message.blocks)
    listing, _ = await world.command("list")
    assert "muted" not in json.dumps(listing.blocks)
    baseten.set_status(MODEL, PROD, "ACTIVE")
    await world.cycle()
    assert notices(slack)[1:] == ["llama-3-8b / v3: UNHEALTHY → ACTIVE"]

    await world.command(f"subscribe {MODEL} {DEV}", channel="C2")
    refused, kind = await world.command(f"mute {MODEL} v3 1h", channel="C2")
    assert kind == "ephemeral" and "not subscribed" in refused.text  # C2 does not hear v3


async def test_a_channel_that_stops_following_a_model_forgets_its_mutes(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command(f"subscribe {MODEL}")
    await world.command(f"mute {MODEL} 1d")
    await world.command(f"unsubscribe {MODEL}")
    await world.command(f"subscribe {MODEL}")
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.cycle()
    assert notices(slack) == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"]


async def test_subscribing_again_with_other_options_changes_them_and_says_what_changed(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command(f"subscribe {MODEL} {PROD}")
    message, kind = await world.command(f"subscribe {MODEL} {PROD} --on failures --no-thread --stuck 45m")
    text = json.dumps(message.blocks, ensure_ascii=False)
    assert kind == "in_channel" and "changed this channel's subscription" in text
    assert "every change except scale-to-zero churn → failures" in text
    assert "one message per change" in text and "stuck after 30m → 45m" in text
    listing, _ = await world.command("list")
    assert "failures" in json.dumps(listing.blocks) and "no threads" in json.dumps(listing.blocks)
    same, kind = await world.command(f"subscribe {MODEL} {PROD} --stuck 45m --no-thread --on failures")
    assert kind == "ephemeral" and "nothing changed" in same.text
    baseten.set_status(MODEL, PROD, "UPDATING")  # not a failure: not heard any more
    await world.cycle()
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    await world.cycle()
    baseten.set_status(MODEL, PROD, "DEPLOY_FAILED")
    await world.cycle()
    assert notices(slack) == ["llama-3-8b / v3: UPDATING → UNHEALTHY", "llama-3-8b / v3: UNHEALTHY → DEPLOY_FAILED"]
    assert not any(p.get("thread_ts") for p in slack.posts())  # --no-thread took effect


async def test_every_change_to_who_watches_what_moves_the_watchers_revision(world: World) -> None:
    """The poll loop reads every watcher again only when this moves: each kind of write must move it."""
    revision = world.store.subscriptions.revision
    seen = [await revision()]

    async def moved() -> bool:
        seen.append(await revision())
        return seen[-1] != seen[-2]

    await world.command(f"subscribe {MODEL} {PROD}")
    assert await moved()
    await world.command(f"subscribe {MODEL} {PROD} --no-thread")  # options changed
    assert await moved()
    await world.command(f"mute {MODEL} 1h")
    assert await moved()
    await world.command(f"unmute {MODEL}")
    assert await moved()
    assert await world.store.subscriptions.pause_channel(TEAM, "C1", "channel_not_found") == 1
    assert await moved()
    assert await world.store.subscriptions.resume_channel(TEAM, "C1") == 1
    assert await moved()
    await world.command(f"unsubscribe {MODEL} {PROD}")
    assert await moved()
    await world.command("list")  # reading moves nothing
    assert not await moved()


@on_postgres
async def test_a_subscription_write_does_not_wait_for_another_ones_revision_move(world: World, db_url: str) -> None:
    """Issue 28: every subscription write moved the one watchers revision row inside its transaction,
    so on PostgreSQL each concurrent write queued on that row's lock, holding a pooled connection,
    until the one ahead committed; under a burst the pool ran dry. Here a writer that moved the
    revision has not committed yet (a second connection, held open on purpose): a subscribe
    must still complete, and the revision must move once that writer commits."""
    before = await world.store.subscriptions.revision()
    held = make_sync_engine(db_url)
    with held.connect() as conn:
        conn.execute(sa.text("UPDATE revisions SET value = value + 1 WHERE name = 'watchers'"))  # not committed
        message, kind = await asyncio.wait_for(world.command(f"subscribe {MODEL} {PROD}"), timeout=20)
        assert kind == "in_channel", message.text
        conn.commit()
    held.dispose()
    assert [w.channel_id for w in await world.store.subscriptions.watchers()] == ["C1"]
    assert await world.store.subscriptions.revision() != before  # moved after the subscription was stored


async def test_a_channel_that_unsubscribed_after_the_watchers_were_read_is_owed_nothing(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    """The poll loop holds the watchers it read for a few seconds; an unsubscribe in between must not
    break the record (a delivery to a removed subscription breaks its foreign key)."""
    for channel in ("C1", "C2"):
        await world.command(f"subscribe {MODEL} {PROD}", channel=channel)
    watchers = await world.store.subscriptions.watchers()
    await world.command(f"unsubscribe {MODEL} {PROD}", channel="C2")
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    polled = await world.poller.poll(watchers, plan(watchers))
    assert polled.report.changes == 1 and polled.report.deliveries_created == 1
    await world.notifier.deliver_due()
    assert notices(slack, "C1") == ["llama-3-8b / v3: ACTIVE → UNHEALTHY"] and notices(slack, "C2") == []


async def test_a_send_cut_by_shutdown_gives_its_notice_back_at_once(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    """Issue 22: a send cut mid-flight kept its claim (30 s and more), holding its channel's later
    notices back after the restart; now the row is pending again at once."""
    await world.command(f"subscribe {MODEL} {PROD}")
    slack.script("chat.postMessage", Canned(200, {"ok": True, "ts": "1.1"}, delay=5.0))  # Slack is slow
    baseten.set_status(MODEL, PROD, "UNHEALTHY")
    world.clock.advance(seconds=60)
    report = await world.poller.cycle(deliver=False)
    assert report.changes == 1
    sending = asyncio.create_task(world.notifier.deliver_due())
    await asyncio.sleep(1.0)  # the post is under way
    sending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sending
    assert await world.store.outbox.counts() == {"pending": 1}
