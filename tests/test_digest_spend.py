"""The digest's "Spend" section (issue 25) through the real Baseten client, the service's cost cache and
the fake Baseten serving usage as its spec allows: the watched models' spend in the period against the
period before, largest movers first, exact decimals rounded once; a key without billing access said
plainly; a model known only by name (its deployments deleted) still counted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bot.app.db import make_async_engine, sessions
from bot.baseten.client import BasetenClient
from bot.baseten.ratelimit import RateLimiter
from bot.cost.cache import CostCache
from bot.cost.digest_spend import DigestSpend, lines
from bot.domain.changes import Snap
from bot.store import Store
from bot.store import tables as t
from bot.store._sql import insert_ignore
from tests.conftest import MODEL, MODEL_NAME, PROD
from tests.fakes import API_KEY, FakeBaseten

DAY = date(2026, 3, 10)
START = datetime(2026, 3, 10, tzinfo=UTC)
END = datetime(2026, 3, 11, tzinfo=UTC)
NOW = datetime(2026, 3, 11, 9, 0, tzinfo=UTC)


@pytest.fixture
async def spend(baseten: FakeBaseten, db_url: str) -> AsyncIterator[DigestSpend]:
    engine = make_async_engine(db_url)
    store = Store(sessions(engine), now=lambda: NOW)
    async with store._sessions.begin() as session:  # what the poller saw: v3 of the model
        await insert_ignore(
            session,
            t.ModelState,
            [{"model_id": MODEL, "name": MODEL_NAME, "production_deployment_id": PROD, "baseline_at": NOW}],
        )
        snap = Snap(MODEL, PROD, "v3", "ACTIVE", NOW)
        await insert_ignore(
            session,
            t.Snapshot,
            [
                {
                    "model_id": snap.model_id,
                    "deployment_id": snap.deployment_id,
                    "name": "v3",
                    "status": "ACTIVE",
                    "status_since": NOW,
                }
            ],
        )
    client = BasetenClient(api_key=API_KEY, base_url=baseten.url, limiter=RateLimiter(1000), timeout=2.0)
    yield DigestSpend(store=store, cache=CostCache(client, now=lambda: NOW))
    await client.aclose()
    await engine.dispose()


async def test_the_watched_models_spend_against_the_day_before(baseten: FakeBaseten, spend: DigestSpend) -> None:
    baseten.add_billed(PROD, name="v3", model_name=MODEL_NAME)
    baseten.add_usage(PROD, DAY, "12.345", minutes=600, requests=40)
    baseten.add_usage(PROD, date(2026, 3, 9), "10.00", minutes=500, requests=30)
    baseten.add_billed("gone1", name="v1", model_name=MODEL_NAME, is_deleted=True)  # only its name says whose
    baseten.add_usage("gone1", DAY, "0.01", minutes=1)
    baseten.add_billed("other1", name="x", model_name="someone-else")
    baseten.add_usage("other1", DAY, "99", minutes=60)
    said = await spend.spend_lines(team_id="T1", channel_id="C1", model_ids=[MODEL], start=START, end=END)
    assert said == [
        "$12.36 in the last day (USD, Baseten's billing) (+24% vs $10.00 before)",
        f"{MODEL_NAME}: $12.36 (+24% vs $10.00 before)",
    ]


async def test_a_key_without_billing_access_is_said_plainly(baseten: FakeBaseten, spend: DigestSpend) -> None:
    baseten.billing_fail(403)
    said = await spend.spend_lines(team_id="T1", channel_id="C1", model_ids=[MODEL], start=START, end=END)
    assert said == ["This API key may not read Baseten's billing, so the digest says nothing of spend."]
    assert await spend.spend_lines(team_id="T1", channel_id="C1", model_ids=[], start=START, end=END) is None


def test_movers_are_the_largest_changes_and_the_rest_one_line() -> None:
    rows = [(f"m{i}", Decimal(i), Decimal(0) if i == 3 else Decimal(1)) for i in range(1, 8)]
    out = lines(rows, days=7)
    assert out[0].startswith("$28.00 in the last 7 days")
    assert out[1] == "m7: $7.00 (+600% vs $1.00 before)"
    assert "m3: $3.00 (nothing before)" in out
    assert out[-1] == "and 2 more models: $3.00"
