"""The cost report as values and as shown (issue 25): which lines are a target's, the top ten and the rest,
the change, the burn rate, money rounded once; `cost` parsed; the billing cache's memory. No network."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.baseten.errors import AuthError, Unavailable
from bot.commands.parse import parse
from bot.commands.typed import Cost, UsageError
from bot.cost.cache import CostCache, NoBilling
from bot.domain.cost import Prices, Usage, UsageLine
from bot.domain.spend import Running, Scope, burn_now, report
from bot.domain.subjects import Kind
from bot.render.cost import cost_message, percent, terminal_cost
from tests.test_render import within_limits
from tests.test_text import keeps_the_invariants

START, END = date(2026, 3, 1), date(2026, 3, 7)
LLAMA = Scope(Kind.MODEL, "mdl1", "llama", frozenset({"dep1"}))
L4 = "1x L4 (24 GiB)"


def line(
    id_: str, subtotal: str, *, parent: str | None = "llama", requests: int | None = 100, **kw: object
) -> UsageLine:
    kind = kw.pop("kind", "MODEL_DEPLOYMENT")
    return UsageLine(
        id=id_,
        kind=kind,  # type: ignore[arg-type]
        name=kw.pop("name", id_),  # type: ignore[arg-type]
        parent=parent,
        subtotal=Decimal(subtotal),
        minutes=60,
        inference_requests=requests,
        **kw,  # type: ignore[arg-type]
    )


def usage(*lines: UsageLine, start: date = START, end: date = END) -> Usage:
    return Usage(start, end, lines)


def before(*lines: UsageLine) -> Usage:
    return usage(*lines, start=date(2026, 2, 22), end=date(2026, 2, 28))


def shown(message: object) -> str:
    blocks = getattr(message, "blocks")  # noqa: B009
    return "\n".join(b["text"]["text"] if "text" in b else b["elements"][0]["text"] for b in blocks)


# -- which lines, and the sums --------------------------------------------------------------------


def test_a_models_lines_by_deployment_id_or_model_name_a_chain_by_id_a_project_by_name() -> None:
    lines = (
        line("dep1", "1", parent="renamed"),  # by id, though the model's name changed since
        line("dep0gone", "2", is_deleted=True),  # deleted: by the model's name
        line("dep9", "4", parent="whisper"),
        line("cl1", "8", parent=None, kind="CHAINLET", chain_id="ch1", chain_name="rag"),
        line("job1", "16", parent="llama", kind="TRAINING_JOB", requests=None),  # a project named like the model
    )
    assert report(LLAMA, usage(*lines), None).total == Decimal(3)
    assert report(Scope(Kind.CHAIN, "ch1", "rag"), usage(*lines), None).total == Decimal(8)
    assert report(Scope(Kind.TRAINING, "p1", "llama"), usage(*lines), None).total == Decimal(16)
    everything = report(Scope(), usage(*lines), None)
    assert everything.total == Decimal(31) and everything.requests == 400  # the job counts no requests
    assert [r.parent for r in everything.rows] == ["llama", "rag", "whisper", "llama", "renamed"]


def test_the_top_ten_by_spend_then_how_many_more_and_what_they_cost() -> None:
    lines = [line(f"dep{i:02}", f"{i}.005") for i in range(1, 14)]
    r = report(Scope(), usage(*lines), None)
    assert [row.id for row in r.rows] == [f"dep{i:02}" for i in range(13, 3, -1)]
    assert (r.more, r.more_total, r.total) == (3, Decimal("6.015"), Decimal("91.065"))
    message = cost_message(r)
    within_limits(message)
    keeps_the_invariants(message)
    text = shown(message)
    assert "\n10. *dep04*" in text and "\n11. " not in text and "dep03" not in text
    assert "… and 3 more deployments ($6.02)" in text  # 6.015, rounded half up once
    assert "*$91.07*" in text  # the exact sum rounded, not the sum of rounded amounts ($91.13)


def test_money_rounds_half_up_once_and_says_so_once() -> None:
    r = report(LLAMA, usage(line("dep1", "0.125", requests=3)), before(line("dep1", "0.1")))
    text = shown(cost_message(r))
    assert "*$0.13*" in text and "($41.67 per 1,000)" in text  # 0.125 * 1000 / 3 = 41.666…
    assert text.count("USD") == 1 and text.count("rounded half up to the cent") == 1
    assert "+25% against the 7 days before ($0.10)." in text
    assert percent(Decimal("0.0249")) == "+2.5%" and percent(Decimal("-0.5")) == "-50%"


def test_no_usage_and_zero_requests_and_nothing_before() -> None:
    empty = report(LLAMA, usage(), before())
    text = shown(cost_message(empty))
    assert "No spend in this window." in text and "*$0.00*" in text
    assert "No spend before: nothing in the 7 days before." in text
    idle = report(LLAMA, usage(line("dep1", "4.80", requests=0)), before())
    text = shown(cost_message(idle))
    assert "0 requests" in text and "per 1,000" not in text  # no cost per request of none
    assert "No spend before" in text
    job = report(Scope(Kind.TRAINING, "p1", "llama"), usage(line("j1", "3", kind="TRAINING_JOB", requests=None)), None)
    text = shown(cost_message(job))
    assert "requests" not in text.split("\n", 3)[-1]  # a job's line counts no requests
    assert "No comparison" in text


def test_decimal_strings_stay_exact_through_sums() -> None:
    lines = [line(f"d{i}", "0.1") for i in range(3)]
    r = report(Scope(), usage(*lines), None)
    assert r.total == Decimal("0.3") and type(r.total) is Decimal  # 0.1 + 0.1 + 0.1 as floats is 0.30000000000000004


def test_the_burn_rate_is_replicas_times_the_price_a_minute_per_hour_and_day() -> None:
    prices = Prices({L4: Decimal("0.01414")})
    running = [Running("v3", 2, L4), Running("v2", 0, L4), Running("big", 1, "1x B200"), Running("dev", 1, None)]
    burn = burn_now(running, prices, unread="the replicas of 1 model or chain Baseten did not list just now")
    assert (burn.rate.per_hour, burn.rate.per_day, burn.replicas) == (Decimal("1.6968"), Decimal("40.7232"), 2)
    assert burn.unpriced == ("1x B200", "an unnamed instance type")
    text = shown(cost_message(report(LLAMA, usage(), None, burn=burn)))
    assert "Burn rate now: $1.70 an hour, $40.72 a day (2 replicas up)." in text
    assert "Not counted: replicas on 1x B200, an unnamed instance type" in text
    assert "Not counted: the replicas of 1 model or chain Baseten did not list just now." in text
    unknown = shown(cost_message(report(LLAMA, usage(), None, burn_note="no prices")))
    assert "Burn rate now: not measured (no prices)." in unknown


def test_hostile_names_are_cleaned_everywhere_and_the_text_is_short() -> None:
    nasty = "`<!channel>` @here \u202e" + "x" * 500
    lines = [line(f"d{i}", "1", name=nasty, parent=nasty) for i in range(12)]
    r = report(Scope(Kind.MODEL, "m1", nasty), usage(*lines), before())
    message = cost_message(r)
    keeps_the_invariants(message)
    assert len(message.text) <= 300 and "<!channel>" not in message.text
    terminal = terminal_cost(r)
    assert "\u202e" not in terminal and "USD, rounded half up to the cent" in terminal


# -- the command ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cost", Cost(None, 7)),
        ("cost llama", Cost("llama", 7)),
        ("cost --days 30 llama", Cost("llama", 30)),
        ("cost Chain:rag --days=1", Cost("chain:rag", 1)),
        ("cost training:ft \u2014days 31", Cost("training:ft", 31)),
    ],
)
def test_cost_parses(text: str, expected: Cost) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("cost --days 0", "out of range: from 1 to 31 days"),
        ("cost --days 32", "out of range"),
        ("cost --days " + "9" * 500, "out of range"),
        ("cost --days week", "not a number of days"),
        ("cost --days -3", "not a number of days"),
        ("cost --days", "needs a number of days"),
        ("cost --days 3 --days 4", "given twice"),
        ("cost a b", "Too many arguments: `b`"),
        ("cost ../x", "not a valid model"),
        ("cost chain:", "needs a chain id or name"),
        ("cost --loud", "Unknown option"),
    ],
)
def test_bad_cost_input_is_a_specific_usage_error(text: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert says in str(caught.value) and caught.value.usage is not None and "--days N" in caught.value.usage


# -- the cache --------------------------------------------------------------------------------------


class Billing:
    def __init__(self) -> None:
        self.asked: list[str] = []
        self.fail: Exception | None = None

    async def usage_summary(self, start: date, end: date, *, interactive: bool = False) -> Usage:
        self.asked.append(f"usage {start} {end}")
        if self.fail is not None:
            raise self.fail
        return usage(start=start, end=end)

    async def instance_type_prices(self, *, interactive: bool = False) -> Prices:
        self.asked.append("prices")
        if self.fail is not None:
            raise self.fail
        return Prices({})


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_usage_is_kept_an_hour_per_window_and_prices_a_day() -> None:
    billing, clock = Billing(), Clock()
    cache = CostCache(billing, now=clock)
    for _ in range(3):
        await cache.usage(START, END)
        await cache.prices()
    await cache.usage(date(2026, 3, 2), END)
    assert billing.asked == ["usage 2026-03-01 2026-03-07", "prices", "usage 2026-03-02 2026-03-07"]
    clock.now += timedelta(minutes=61)
    await cache.usage(START, END)
    await cache.prices()
    assert billing.asked[-1] == "usage 2026-03-01 2026-03-07"
    clock.now += timedelta(hours=23)
    await cache.prices()
    assert billing.asked.count("prices") == 2


async def test_callers_at_once_share_one_request() -> None:
    """A morning's digests and a `cost` asking for the same window together: Baseten is asked once."""

    class Slow(Billing):
        async def usage_summary(self, start: date, end: date, *, interactive: bool = False) -> Usage:
            await asyncio.sleep(0.05)  # the others arrive while this one is still asking
            return await super().usage_summary(start, end, interactive=interactive)

    billing = Slow()
    cache = CostCache(billing, now=Clock())
    answers = await asyncio.gather(*(cache.usage(START, END) for _ in range(5)))
    assert billing.asked == ["usage 2026-03-01 2026-03-07"]
    assert all(a is answers[0] for a in answers)


async def test_a_403_is_remembered_an_hour_and_other_failures_are_not() -> None:
    billing, clock = Billing(), Clock()
    cache = CostCache(billing, now=clock)
    billing.fail = Unavailable("down")
    for _ in range(2):
        with pytest.raises(Unavailable):
            await cache.usage(START, END)
    assert len(billing.asked) == 2 and cache.refused() is None
    billing.fail = AuthError(403, "no billing")
    with pytest.raises(NoBilling) as caught:
        await cache.usage(START, END)
    assert str(caught.value).startswith("This API key may not read Baseten's billing: ")
    assert "13:00 UTC" in str(caught.value)
    with pytest.raises(NoBilling):
        await cache.prices()  # the same key: not asked
    assert len(billing.asked) == 3
    billing.fail = None
    clock.now += timedelta(hours=1)
    assert cache.refused() is None
    await cache.prices()
    assert len(billing.asked) == 4
