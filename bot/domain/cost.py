"""What GPUs cost (issue 25; CONTRACT.md "Cost"): Baseten's billed usage and its prices, as values. Pure.

Money is a `decimal.Decimal`, never a float, exact as Baseten wrote it (bot.baseten.billing reads its
JSON numbers and decimal strings straight into Decimals). The currency is US dollars: the spec says
"in dollars" of every usage amount and "USD / minute" of every price, and names no other.

Sums are exact; an amount is rounded only to be shown, to the cent, halves away from zero
(ROUND_HALF_UP: $0.125 is $0.13, -$0.125 is -$0.13), as an invoice reads.

A usage window is whole UTC days, `start` to `end` both included: Baseten's earliest is
2026-01-01 and a window is at most 31 days (`window_problem`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

CURRENCY = "USD"
CENT = Decimal("0.01")
ROUNDING = ROUND_HALF_UP
EARLIEST = date(2026, 1, 1)  # "Earliest queryable: 2026-01-01."
MAX_DAYS = 31  # "The date range must not exceed 31 days."

# ResourceKind, as the spec names them: a model's deployment, a chain's chainlet, a training project's job
Kind = Literal["MODEL_DEPLOYMENT", "CHAINLET", "TRAINING_JOB"]
KINDS: tuple[Kind, ...] = ("MODEL_DEPLOYMENT", "CHAINLET", "TRAINING_JOB")


@dataclass(frozen=True)
class Day:
    """One day of one resource's usage. `inference_requests` is None for a training job (not counted)."""

    day: date
    subtotal: Decimal
    minutes: int
    inference_requests: int | None


@dataclass(frozen=True)
class UsageLine:
    """What one billable resource cost in the window (a breakdown item of the spec's usage summary).

    `parent` is the spec's `model_name`: the model of a deployment, the training project of a job.
    A chainlet names its chain in `chain_id` and `chain_name`. `inference_requests` is None for a
    training job, whose usage counts none."""

    id: str
    kind: Kind
    name: str | None
    parent: str | None
    subtotal: Decimal
    minutes: int
    inference_requests: int | None
    daily: tuple[Day, ...] = ()
    instance_type: str | None = None
    environment: str | None = None
    is_deleted: bool = False
    chain_id: str | None = None
    chain_name: str | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class Section:
    """One part of the bill as Baseten sums it (dedicated serving, training, model APIs): `subtotal`
    ("after applying credits used"), `credits_used` and `total`, verbatim; `minutes` where it has any."""

    subtotal: Decimal
    credits_used: Decimal
    total: Decimal
    minutes: int | None = None


@dataclass(frozen=True)
class Usage:
    """The usage summary of one window: a line per billable resource (dedicated serving's deployments and
    chainlets, then training's jobs) and each part of the bill Baseten reported (None: it sent none)."""

    start: date
    end: date
    lines: tuple[UsageLine, ...]
    dedicated: Section | None = None
    training: Section | None = None
    model_apis: Section | None = None
    currency: str = CURRENCY

    @property
    def total(self) -> Decimal:
        """What the window's billable resources cost: the sum of their lines' subtotals."""
        return total(self.lines)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def of_kind(self, *kinds: Kind) -> tuple[UsageLine, ...]:
        return tuple(line for line in self.lines if line.kind in kinds)


@dataclass(frozen=True)
class Prices:
    """Price per minute in USD of each instance type, by its name (the `instance_type_name` a deployment
    gives, e.g. `1x L4 (24 GiB)`); `by_id` has the same prices by the instance type's id."""

    per_minute: Mapping[str, Decimal]
    by_id: Mapping[str, Decimal] = field(default_factory=dict)
    currency: str = CURRENCY

    def of(self, instance_type: str | None) -> Decimal | None:
        """The price per minute of an instance type, by name or id; None when Baseten lists no such type."""
        if instance_type is None:
            return None
        found = self.per_minute.get(instance_type)
        return found if found is not None else self.by_id.get(instance_type)


@dataclass(frozen=True)
class Burn:
    """What replicas running now cost, per hour and per day, unrounded."""

    per_hour: Decimal
    per_day: Decimal


def total(lines: Iterable[UsageLine]) -> Decimal:
    """The exact sum of these lines' subtotals."""
    return sum((line.subtotal for line in lines), Decimal(0))


def per_thousand(cost: Decimal, requests: int | None) -> Decimal | None:
    """Cost per 1,000 inference requests, unrounded; None when there were none (or none are counted)."""
    if not requests or requests < 0:
        return None
    return cost * 1000 / requests


def cents(amount: Decimal) -> Decimal:
    """An amount rounded to the cent, halves away from zero (ROUND_HALF_UP)."""
    return amount.quantize(CENT, rounding=ROUNDING)


def money(amount: Decimal) -> str:
    """An amount as shown: `$1,234.57`, `-$0.13`, rounded to the cent."""
    rounded = cents(amount)
    sign = "-" if rounded < 0 else ""
    return f"{sign}${abs(rounded):,.2f}"


def burn(replicas: int, price_per_minute: Decimal) -> Burn:
    """The burn rate of `replicas` active replicas of an instance type at `price_per_minute`."""
    per_hour = price_per_minute * 60 * max(replicas, 0)
    return Burn(per_hour=per_hour, per_day=per_hour * 24)


def change(now: Decimal, before: Decimal) -> Decimal | None:
    """The change from `before` to `now` as a fraction of `before` (0.25 is 25% more); None from nothing."""
    if before == 0:
        return None
    return (now - before) / abs(before)


def window_problem(start: date, end: date) -> str | None:
    """Why Baseten would refuse this usage window, or None."""
    if start < EARLIEST:
        return f"usage starts at {EARLIEST.isoformat()}: Baseten has none before"
    if end < start:
        return "the window ends before it starts"
    if (end - start).days + 1 > MAX_DAYS:
        return f"a window is at most {MAX_DAYS} days"
    return None


def last_days(days: int, today: date) -> tuple[date, date]:
    """The window of the last `days` days, today included."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be from 1 to {MAX_DAYS}")
    return today - timedelta(days=days - 1), today


def window_before(start: date, end: date) -> tuple[date, date]:
    """The window of the same length just before this one (to compare with). It may start before
    EARLIEST: check it with `window_problem` before asking."""
    length = end - start + timedelta(days=1)
    return start - length, start - timedelta(days=1)
