"""What GPUs cost as values (bot.domain.cost): exact sums, cents rounded half up, the window's rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.domain.cost import (
    EARLIEST,
    Prices,
    Usage,
    UsageLine,
    burn,
    cents,
    change,
    last_days,
    money,
    per_thousand,
    total,
    window_before,
    window_problem,
)


def line(subtotal: str, requests: int | None = 10, kind: str = "MODEL_DEPLOYMENT") -> UsageLine:
    return UsageLine("dep1", kind, None, None, Decimal(subtotal), 1, requests)  # type: ignore[arg-type]


def test_sums_are_exact_and_rounding_is_half_up_only_when_shown() -> None:
    lines = [line("0.1"), line("0.1"), line("0.1")]
    assert total(lines) == Decimal("0.3") and total([]) == Decimal(0)
    assert [cents(Decimal(v)) for v in ("0.125", "0.135", "-0.125", "2.004", "7")] == [
        Decimal("0.13"),
        Decimal("0.14"),  # half up, not to even (which would give 0.14 here and 0.12 above)
        Decimal("-0.13"),
        Decimal("2.00"),
        Decimal("7.00"),
    ]
    assert [money(Decimal(v)) for v in ("1234.565", "-0.125", "0", "0.004")] == [
        "$1,234.57",
        "-$0.13",
        "$0.00",
        "$0.00",
    ]


def test_cost_per_thousand_requests() -> None:
    assert per_thousand(Decimal("12.3"), 1200) == Decimal("10.25")
    assert per_thousand(Decimal("1"), 3) == Decimal(1000) / 3
    assert per_thousand(Decimal("5"), 0) is None and per_thousand(Decimal("5"), None) is None


def test_burn_rate_and_change() -> None:
    rate = burn(3, Decimal("0.01414"))
    assert (rate.per_hour, rate.per_day) == (Decimal("2.54520"), Decimal("61.08480"))
    assert burn(0, Decimal("0.1")).per_day == 0 and burn(-1, Decimal("0.1")).per_hour == 0
    assert change(Decimal("125"), Decimal("100")) == Decimal("0.25")
    assert change(Decimal("50"), Decimal("100")) == Decimal("-0.5")
    assert change(Decimal("5"), Decimal("0")) is None


def test_the_window_rules() -> None:
    assert window_problem(EARLIEST, date(2026, 1, 31)) is None  # 31 days, from the first
    assert window_problem(date(2026, 3, 1), date(2026, 3, 1)) is None
    assert "2026-01-01" in (window_problem(date(2025, 12, 31), date(2026, 1, 1)) or "")
    assert "ends before" in (window_problem(date(2026, 3, 2), date(2026, 3, 1)) or "")
    assert "31 days" in (window_problem(date(2026, 3, 1), date(2026, 4, 1)) or "")
    assert last_days(7, date(2026, 3, 7)) == (date(2026, 3, 1), date(2026, 3, 7))
    assert window_before(date(2026, 3, 1), date(2026, 3, 7)) == (date(2026, 2, 22), date(2026, 2, 28))
    for days in (0, 32):
        with pytest.raises(ValueError):
            last_days(days, date(2026, 3, 7))


def test_usage_and_prices() -> None:
    usage = Usage(date(2026, 3, 1), date(2026, 3, 7), (line("2.5"), line("1", None, "TRAINING_JOB")))
    assert (usage.total, usage.days, usage.currency) == (Decimal("3.5"), 7, "USD")
    assert [x.kind for x in usage.of_kind("TRAINING_JOB")] == ["TRAINING_JOB"]
    prices = Prices(per_minute={"1x L4 (24 GiB)": Decimal("0.01414")}, by_id={"L4": Decimal("0.01414")})
    assert prices.of("L4") == prices.of("1x L4 (24 GiB)") == Decimal("0.01414")
    assert prices.of("A10G") is None and prices.of(None) is None
