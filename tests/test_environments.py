"""`env:NAME` in commands, against the fake Baseten and a real SQLite file: the environment card, unknown
names answered with the model's environments, and `production` and `env:production` as one target."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from tests.conftest import MODEL, OLD
from tests.fakes import FakeBaseten, FakeSlack, deployment
from tests.world import World

NEW = "dep4new"


@pytest.fixture
async def world(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> AsyncIterator[World]:
    baseten.add_deployment(deployment(NEW, MODEL, name="v4", status="ACTIVE"))
    baseten.add_environment(MODEL, "staging", current=OLD)
    w = World(baseten, slack, db_url)
    yield w
    await w.close()


async def test_status_of_an_environment_shows_its_promotion_and_settings(world: World, baseten: FakeBaseten) -> None:
    message, kind = await world.command(f"status {MODEL} env:staging")
    assert kind == "ephemeral" and message.text == "llama-3-8b / staging: v2 INACTIVE"
    baseten.start_promotion(MODEL, "staging", NEW, "RAMPING_UP", 25)
    message, _ = await world.command(f"status {MODEL} env:Staging")  # as Baseten spells it, whatever the case
    assert message.text == "llama-3-8b / staging: v2 INACTIVE; promoting v4: RAMPING_UP (25% of traffic)"
    blocks = json.dumps(message.blocks, ensure_ascii=False)
    assert "▰▰▰▱▱▱▱▱▱▱ 25%" in blocks and "min 1, max 4, concurrency 2" in blocks
    assert f"Deployment `{OLD}` of model `{MODEL}`" in blocks  # the current deployment's own card
    production, _ = await world.command(f"status {MODEL} env:production")
    assert production.text == "llama-3-8b / production: v3 ACTIVE"


async def test_an_unknown_environment_is_answered_with_the_models_environments(
    world: World, baseten: FakeBaseten
) -> None:
    for verb in ("status", "subscribe"):
        message, kind = await world.command(f"{verb} {MODEL} env:qa")
        assert kind == "ephemeral"
        assert message.text == "Model `llama-3-8b` has no environment `qa`. Its environments: `production`, `staging`."
    listing, _ = await world.command("list")
    assert "no subscriptions" in listing.text
    asked = [r.path for r in baseten.requests if "/environments" in r.path]
    assert f"/v1/models/{MODEL}/environments/qa" in asked  # one name, then the list to answer with


async def test_production_and_env_production_are_one_subscription(world: World) -> None:
    first, kind = await world.command(f"subscribe {MODEL} env:production")
    assert kind == "in_channel" and "the production deployment" in json.dumps(first.blocks)
    again, kind = await world.command(f"subscribe {MODEL} production")
    assert kind == "ephemeral" and "already subscribed" in again.text
    staging, kind = await world.command(f"subscribe {MODEL} env:staging --on deploys")
    assert kind == "in_channel" and "the *staging* environment" in json.dumps(staging.blocks)
    listing, _ = await world.command("list")
    assert listing.text == "2 subscription(s) in this channel"
    muted, kind = await world.command(f"mute {MODEL} env:staging 2h")
    assert kind == "in_channel" and "the *staging* environment" in json.dumps(muted.blocks)
    gone, kind = await world.command(f"unsubscribe {MODEL} env:staging")
    assert kind == "in_channel" and "unsubscribed" in json.dumps(gone.blocks)
    gone, kind = await world.command(f"unsubscribe {MODEL} env:production")
    assert kind == "in_channel"
    listing, _ = await world.command("list")
    assert "no subscriptions" in listing.text


async def test_an_environment_subscription_follows_its_current_deployment(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command(f"subscribe {MODEL} env:staging")
    await world.cycle()
    baseten.set_status(MODEL, OLD, "ACTIVE")  # staging's v2: heard
    await world.cycle()
    assert [p["text"] for p in slack.posts()] == ["llama-3-8b / v2: INACTIVE → ACTIVE"]
    listing, _ = await world.command("list")
    assert "the *staging* environment: v2 :large_green_circle: `ACTIVE`" in json.dumps(listing.blocks)
    baseten.start_promotion(MODEL, "staging", NEW, "RELEASING", 0)
    baseten.end_promotion(MODEL, "staging", promoted=True)  # instant: never seen in progress
    await world.cycle()
    assert [p["text"] for p in slack.posts()][1:] == ["llama-3-8b / v4: promoted → staging (was v2)"]
    baseten.set_status(MODEL, OLD, "INACTIVE")  # no longer staging's
    baseten.set_status(MODEL, NEW, "UNHEALTHY")  # now staging's
    await world.cycle()
    assert [p["text"] for p in slack.posts()][2:] == ["llama-3-8b / v4: ACTIVE → UNHEALTHY"]


async def test_an_environments_state_is_written_only_over_what_the_cycle_read(world: World) -> None:
    """Two replicas that read the same promotion step record it once: the second write finds the row moved."""
    from bot.domain.promotions import EnvState
    from bot.store.outbox import Conflict

    seen = EnvState("m1", "staging", "d1", "v2", "d2", "v4", "RAMPING_UP", 25, None, "staging/d2/k", world.clock.now)
    await world.store.outbox.record(snaps=[], models=[], outgoing=[], environments=[(None, seen)])
    with pytest.raises(Conflict):  # a baseline another replica already wrote
        await world.store.outbox.record(snaps=[], models=[], outgoing=[], environments=[(None, seen)])
    moved = EnvState("m1", "staging", "d1", "v2", "d2", "v4", "RAMPING_UP", 50, None, "staging/d2/k", world.clock.now)
    await world.store.outbox.record(snaps=[], models=[], outgoing=[], environments=[(seen, moved)])
    with pytest.raises(Conflict):  # the same step, from a cycle that read the old state
        await world.store.outbox.record(snaps=[], models=[], outgoing=[], environments=[(seen, moved)])
    assert (await world.store.environments.memory(["m1"]))["m1"]["staging"].traffic == 50


async def test_an_odd_environment_is_left_out_and_the_others_are_still_heard(
    world: World, baseten: FakeBaseten, slack: FakeSlack
) -> None:
    """Issue 22: an environment the bot cannot use (a name that is not a plain id) made the whole list
    unreadable, so the model recorded nothing; now it is left out on its own."""
    baseten.add_environment(MODEL, "qa team", current=OLD)
    await world.command(f"subscribe {MODEL} env:staging")
    report = await world.cycle()
    assert report.failed_models == 0
    baseten.start_promotion(MODEL, "staging", NEW, "RELEASING", 0)
    baseten.end_promotion(MODEL, "staging", promoted=True)
    await world.cycle()
    assert [p["text"] for p in slack.posts()] == ["llama-3-8b / v4: promoted → staging (was v2)"]
