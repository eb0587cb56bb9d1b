"""Baseten's billing answers read into bot.domain.cost's values: the usage summary (management.json:
UsageSummaryV1 and its parts) and the instance type prices (InstanceTypePricesV1). Pure: bytes in.

Money never passes through a float: the body is parsed with `parse_float=Decimal`, so a JSON number
is the Decimal of its digits, and a decimal string must match the spec's pattern (no exponent, no
NaN) before it becomes one. A price the spec types as a number must be one.

A body that is not the spec's JSON (a missing field, a string where a count goes, NaN, a kind the
spec does not name) is BadResponse, never a traceback; so is one the spec allows but the bot cannot
read: a negative count, an amount past any bill, two prices for one instance type.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from bot.baseten.errors import BadResponse
from bot.domain.cost import Day, Kind, Prices, Section, Usage, UsageLine

# the spec's pattern of a decimal string, its `\d` as JSON Schema's (ASCII) one
_DECIMAL = re.compile(r"^(?!^[-+.]*$)[+-]?0*\d*\.?\d*$", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
M = TypeVar("M", bound=BaseModel)
LIMIT_DIGITS = 12  # an amount below 10**12 dollars: no bill or price comes near a trillion


def _money(value: Any) -> Decimal:
    """A JSON number (a Decimal, from parse_float, or an int) or a decimal string, as a finite Decimal."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not money")
    if isinstance(value, int):
        value = Decimal(value)
    elif isinstance(value, str):
        if not _DECIMAL.fullmatch(value):  # fullmatch: `$` alone lets a trailing newline by
            raise ValueError("not a decimal string")
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError("not an amount")
    # no arithmetic before this check (1e999999999 would overflow the context): a trillion dollars or
    # more, or digits below 1e-60, is no bill and no price but a garbled answer
    if not value:
        return Decimal(0)  # a zero's exponent may be anything (0e999999999): it is nothing to keep
    exponent = value.as_tuple().exponent
    if value.adjusted() >= LIMIT_DIGITS or not isinstance(exponent, int) or exponent < -60:
        raise ValueError("not an amount")
    return value


def _number(value: Any) -> Decimal:
    """A JSON number only, as the spec types a price."""
    if isinstance(value, str):
        raise ValueError("a price is a number, not a string")
    return _money(value)


def _day(value: Any) -> date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("not a date")
    return date.fromisoformat(value)


Money = Annotated[Decimal, BeforeValidator(_money)]
Number = Annotated[Decimal, BeforeValidator(_number)]
Count = Annotated[StrictInt, Field(ge=0)]  # a count the spec leaves unbounded: a negative one is garbled
DayOf = Annotated[date, BeforeValidator(_day)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Chain(_Wire):
    chain_id: StrictStr
    chain_name: StrictStr | None = None
    chain_deployment_id: StrictStr


class _Resource(_Wire):
    id: StrictStr
    kind: Kind
    name: StrictStr | None = None
    model_name: StrictStr | None = None
    is_deleted: StrictBool
    instance_type: StrictStr | None = None
    environment_name: StrictStr | None = None
    chain_metadata: _Chain | None = None


class _Daily(_Wire):
    date: DayOf
    subtotal: Money
    minutes: Count
    inference_requests: Count | None = None  # required of dedicated usage's days; training's have none


class _Item(_Wire):
    billable_resource: _Resource
    subtotal: Money
    minutes: Count
    inference_requests: Count | None = None  # required of dedicated usage's items; training's have none
    daily: list[_Daily] = []


class _Section(_Wire):
    subtotal: Money
    credits_used: Money
    total: Money
    minutes: Count
    breakdown: list[_Item] = []


class _ModelApiItem(_Wire):
    """ModelApiItemV1: read for its shape only (the bot reports no model APIs line by line)."""

    model_name: StrictStr
    subtotal: Money
    input_tokens: StrictInt
    output_tokens: StrictInt
    cached_input_tokens: StrictInt


class _ModelApis(_Wire):
    subtotal: Money
    credits_used: Money
    total: Money
    breakdown: list[_ModelApiItem] = []


class _Summary(_Wire):
    dedicated_usage: _Section | None = None
    training_usage: _Section | None = None
    model_apis_usage: _ModelApis | None = None


class _InstanceType(_Wire):
    id: StrictStr
    name: StrictStr


class _Priced(_Wire):
    instance_type: _InstanceType
    price: Number


class _PriceList(_Wire):
    instance_types: list[_Priced]


def _json(raw: bytes, what: str) -> Any:
    """The body as JSON with every number that has a fraction or exponent a Decimal; NaN and
    infinities (which JSON lacks) refused."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, an integer of thousands of digits, nesting
        raise BadResponse(f"Baseten sent an answer this bot cannot read ({what})") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _validated(shape: type[M], raw: bytes, what: str) -> M:
    try:
        return shape.model_validate(_json(raw, what))
    except ValidationError:
        raise BadResponse(f"Baseten sent an answer this bot cannot read ({what})") from None


def _section(wire: _Section | _ModelApis | None) -> Section | None:
    if wire is None:
        return None
    minutes = wire.minutes if isinstance(wire, _Section) else None
    return Section(subtotal=wire.subtotal, credits_used=wire.credits_used, total=wire.total, minutes=minutes)


def _line(item: _Item, *, training: bool) -> UsageLine:
    res = item.billable_resource
    chain = res.chain_metadata
    return UsageLine(
        id=res.id,
        kind=res.kind,
        name=res.name,
        parent=res.model_name,
        subtotal=item.subtotal,
        minutes=item.minutes,
        inference_requests=None if training else item.inference_requests,
        daily=tuple(Day(d.date, d.subtotal, d.minutes, None if training else d.inference_requests) for d in item.daily),
        instance_type=res.instance_type,
        environment=res.environment_name,
        is_deleted=res.is_deleted,
        chain_id=chain.chain_id if chain else None,
        chain_name=chain.chain_name if chain else None,
    )


def _counted(dedicated: _Section | None) -> bool:
    """Whether every dedicated usage item and day has the inference requests the spec requires of it
    (one shape reads training's items too, which have none)."""
    items = dedicated.breakdown if dedicated is not None else []
    return all(
        i.inference_requests is not None and all(d.inference_requests is not None for d in i.daily) for i in items
    )


def parse_usage(raw: bytes, start: date, end: date, *, what: str = "/v1/billing/usage_summary") -> Usage:
    """A usage summary answer for the window `start`..`end`, or BadResponse."""
    summary = _validated(_Summary, raw, what)
    training = summary.training_usage
    if not _counted(summary.dedicated_usage):
        raise BadResponse(f"Baseten sent an answer this bot cannot read ({what})")
    lines = [_line(item, training=False) for item in (summary.dedicated_usage or _EMPTY).breakdown]
    lines += [_line(item, training=True) for item in (training or _EMPTY).breakdown]
    return Usage(
        start=start,
        end=end,
        lines=tuple(lines),
        dedicated=_section(summary.dedicated_usage),
        training=_section(training),
        model_apis=_section(summary.model_apis_usage),
    )


_EMPTY = _Section(subtotal=Decimal(0), credits_used=Decimal(0), total=Decimal(0), minutes=0)


def parse_prices(raw: bytes, *, what: str = "/v1/instance_type_prices") -> Prices:
    """An instance type prices answer, or BadResponse (also for a negative price, or one name or id
    priced twice differently: which one a replica costs could not be told)."""
    listed = _validated(_PriceList, raw, what).instance_types
    by_name: dict[str, Decimal] = {}
    by_id: dict[str, Decimal] = {}
    for priced in listed:
        kind, price = priced.instance_type, priced.price
        if price < 0 or by_name.setdefault(kind.name, price) != price or by_id.setdefault(kind.id, price) != price:
            raise BadResponse(f"Baseten sent an answer this bot cannot read ({what})")
    return Prices(per_minute=by_name, by_id=by_id)
