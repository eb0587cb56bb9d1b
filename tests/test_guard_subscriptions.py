"""`--guard SPEC` stored with a subscription, shown by its confirmation and `list`, and changed by
subscribing again (issue 24), against the fakes and a real database. The verdict itself is
tests/test_guard.py's; the guard at work, end to end, tests/test_guard_e2e.py's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from bot.app.db import make_sync_engine
from bot.commands.typed import UsageError
from tests.conftest import MODEL, OLD
from tests.fakes import FakeBaseten, FakeSlack
from tests.world import World


@pytest.fixture
async def world(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> AsyncIterator[World]:
    baseten.add_environment(MODEL, "staging", current=OLD)
    w = World(baseten, slack, db_url)
    yield w
    await w.close()


def stored(db_url: str) -> dict[str, str | None]:
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT target, guard FROM subscriptions ORDER BY id")).all()
    engine.dispose()
    return {target: guard for target, guard in rows}


async def test_the_guard_is_stored_confirmed_and_listed(world: World, db_url: str) -> None:
    message, kind = await world.command(f"subscribe {MODEL} production --guard 5xx:1%,auto-pause")
    said = json.dumps(message.blocks, ensure_ascii=False)
    assert kind == "in_channel" and "Promotion guard: `5xx:1%,p95:2x,min:50,auto-pause`." in said
    message, _ = await world.command(f"subscribe {MODEL} env:staging --guard off")
    assert "Promotion guard: `off`." in json.dumps(message.blocks, ensure_ascii=False)
    message, _ = await world.command(f"subscribe {MODEL} env:Staging")  # the same one, as Baseten spells it
    assert "promotion guard `off` → `5xx:2%,p95:2x,min:50`" in json.dumps(message.blocks, ensure_ascii=False)
    message, _ = await world.command(f"subscribe {MODEL}")  # the whole model: no promotion guard
    assert "guard" not in json.dumps(message.blocks, ensure_ascii=False).lower()
    assert stored(db_url) == {"production": "5xx:1%,p95:2x,min:50,auto-pause", "env:staging": None, "*": None}

    listing, _ = await world.command("list")
    lines = [b["text"]["text"] for b in listing.blocks if b.get("type") == "section"]
    shown = "\n".join(lines)
    assert "promotion guard `5xx:1%,p95:2x,min:50,auto-pause`" in shown
    assert "promotion guard `5xx:2%,p95:2x,min:50`" in shown  # staging: the default, said
    assert shown.count("promotion guard") == 2  # not on the whole-model subscription


async def test_subscribing_again_changes_the_guard_or_says_nothing_changed(world: World, db_url: str) -> None:
    await world.command(f"subscribe {MODEL} production --guard p95:3x")
    same, kind = await world.command(f"subscribe {MODEL} env:production --guard p95:3x,min:50")
    assert kind == "ephemeral" and "nothing changed" in same.text
    changed, kind = await world.command(f"subscribe {MODEL} production --guard 5xx:2%,p95:2x,min:50")
    assert kind == "in_channel"
    assert "promotion guard `5xx:2%,p95:3x,min:50` → `5xx:2%,p95:2x,min:50`" in json.dumps(
        changed.blocks, ensure_ascii=False
    )
    assert stored(db_url) == {"production": None}  # the default, spelled out, is stored as the default
    same, kind = await world.command(f"subscribe {MODEL} production")
    assert kind == "ephemeral" and "nothing changed" in same.text


async def test_a_guard_where_it_does_not_apply_is_refused_before_any_request(
    world: World, baseten: FakeBaseten, db_url: str
) -> None:
    before = baseten.count()
    with pytest.raises(UsageError, match=r"use it on an environment \(`env:NAME`\) or `production`"):
        await world.command(f"subscribe {MODEL} {OLD} --guard off")  # refused by the parser, in the ack
    assert baseten.count() == before and stored(db_url) == {}
