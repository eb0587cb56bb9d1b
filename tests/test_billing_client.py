"""Usage and prices through the real Baseten client, against the loopback fake (issue 25).

The endpoints as the spec has them (the window's rules, only its query parameters, date-times), money
read exactly whether Baseten sends a number or a decimal string, faults as the client's errors, answers
the spec allows but the bot cannot read and bodies that are not the spec as BadResponse; last, answers
drawn at random from the spec's own schemas: read or refused, never anything else, never a float.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from bot.baseten.billing_api import PRICES, USAGE
from bot.baseten.client import BasetenClient
from bot.baseten.errors import AuthError, BadResponse, Unavailable
from bot.baseten.ratelimit import RateLimiter
from bot.domain.cost import Day, Prices, Usage, burn, per_thousand, total
from tests.conftest import MODEL_NAME, PROD, any_database
from tests.fakes import API_KEY, Canned, FakeBaseten, Seen, _Fake
from tests.fakes_billing import H100, L4
from tests.test_spec_answers import SCHEMAS, instances

pytestmark = any_database  # no database: the client against the fake, once

START, END = date(2026, 3, 1), date(2026, 3, 7)


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


@pytest.fixture
def billing(baseten: FakeBaseten) -> FakeBaseten:
    """A deployment of the standard model, a chainlet and a training job, with usage in and out of the window."""
    baseten.add_billed(PROD, name="v3", model_name=MODEL_NAME, environment="production")
    baseten.add_usage(PROD, date(2026, 3, 1), "12.10", minutes=600, requests=1200)
    baseten.add_usage(PROD, date(2026, 3, 2), "0.20", minutes=10, requests=0)
    baseten.add_usage(PROD, date(2026, 2, 28), "99.00", minutes=900, requests=5)  # the day before the window
    baseten.add_billed("cl1abc", kind="CHAINLET", name="retriever", instance_type=H100, chain=("ch1abc", "rag"))
    baseten.add_usage("cl1abc", date(2026, 3, 7), "6.50", minutes=60, requests=30)
    baseten.add_billed("job1abc", kind="TRAINING_JOB", name="run-1", model_name="finetune", is_deleted=True)
    baseten.add_usage("job1abc", date(2026, 3, 3), "40.00", minutes=240)
    return baseten


@pytest.fixture
async def client(billing: FakeBaseten) -> AsyncIterator[BasetenClient]:
    c = BasetenClient(api_key=API_KEY, base_url=billing.url, limiter=RateLimiter(1000), timeout=2.0, sleep=_no_sleep)
    yield c
    await c.aclose()


def amounts(usage: Usage) -> list[Any]:
    """Every amount of money in a usage summary."""
    found: list[Any] = []
    for line in usage.lines:
        found += [line.subtotal, *(d.subtotal for d in line.daily)]
    for part in (usage.dedicated, usage.training, usage.model_apis):
        if part is not None:
            found += [part.subtotal, part.credits_used, part.total]
    return found


# -- the endpoints as they are --------------------------------------------------------------------


async def test_the_window_is_read_line_by_line(client: BasetenClient, billing: FakeBaseten) -> None:
    usage = await client.usage_summary(START, END)
    assert (usage.start, usage.end, usage.days, usage.currency) == (START, END, 7, "USD")
    prod, chainlet, job = usage.lines
    assert (prod.id, prod.kind, prod.name, prod.parent, prod.environment) == (
        PROD,
        "MODEL_DEPLOYMENT",
        "v3",
        MODEL_NAME,
        "production",
    )
    assert (prod.subtotal, prod.minutes, prod.inference_requests, prod.instance_type) == (
        Decimal("12.3"),
        610,
        1200,
        L4,
    )
    assert prod.daily == (
        Day(date(2026, 3, 1), Decimal("12.1"), 600, 1200),
        Day(date(2026, 3, 2), Decimal("0.2"), 10, 0),
    )  # 28 February is outside the window
    assert (chainlet.kind, chainlet.chain_id, chainlet.chain_name, chainlet.parent) == (
        "CHAINLET",
        "ch1abc",
        "rag",
        None,
    )
    assert (job.kind, job.parent, job.inference_requests, job.is_deleted) == ("TRAINING_JOB", "finetune", None, True)
    assert job.daily == (Day(date(2026, 3, 3), Decimal("40"), 240, None),)
    assert usage.total == Decimal("58.80") and total(usage.of_kind("MODEL_DEPLOYMENT", "CHAINLET")) == Decimal("18.8")
    assert usage.dedicated is not None and usage.dedicated.total == Decimal("18.8") and usage.dedicated.minutes == 670
    assert usage.training is not None and usage.training.total == Decimal("40") and usage.model_apis is None
    assert per_thousand(prod.subtotal, prod.inference_requests) == Decimal("10.25")
    assert per_thousand(job.subtotal, job.inference_requests) is None
    (seen,) = billing.billing_requests()
    assert seen.path == USAGE
    assert seen.query == {"start_date": ["2026-03-01T00:00:00Z"], "end_date": ["2026-03-07T23:59:59Z"]}


@pytest.mark.parametrize("money_as", ["number", "string", "both"])
async def test_money_is_exact_as_a_number_or_a_decimal_string(
    client: BasetenClient, billing: FakeBaseten, money_as: str
) -> None:
    billing.money_as = money_as
    billing.credits = Decimal("5.05")
    usage = await client.usage_summary(START, END)
    assert all(type(a) is Decimal for a in amounts(usage))
    assert usage.dedicated is not None
    assert (usage.dedicated.total, usage.dedicated.credits_used, usage.dedicated.subtotal) == (
        Decimal("18.8"),
        Decimal("5.05"),
        Decimal("13.75"),
    )
    assert usage.total == Decimal("58.8")


@pytest.mark.parametrize(("money_as", "kinds"), [("number", {float}), ("string", {str}), ("both", {float, str})])
def test_the_fake_sends_money_as_asked(billing: FakeBaseten, money_as: str, kinds: set[type]) -> None:
    """By default both in one answer: amounts as JSON numbers and as decimal strings."""
    if money_as != "both":
        billing.money_as = money_as
    path = f"{billing.url}{USAGE}"
    headers = {"Authorization": f"Api-Key {API_KEY}"}
    params = {"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-03-07T23:59:59Z"}
    part = httpx.get(path, params=params, headers=headers).json()["dedicated_usage"]
    sent = [part["subtotal"], part["total"], *(i["subtotal"] for i in part["breakdown"])]
    sent += [day["subtotal"] for i in part["breakdown"] for day in i["daily"]]
    assert {type(amount) for amount in sent} == kinds


async def test_a_json_number_never_passes_through_a_float(client: BasetenClient, billing: FakeBaseten) -> None:
    items = [item(f"d{i}", "0.1") for i in range(3)] + [item("big", "12345678901.123456789012345")]
    raw = summary_raw(items, subtotal="12345678901.423456789012345")
    billing.script(USAGE, Canned(200, raw=raw))
    usage = await client.usage_summary(START, END)
    assert total(usage.lines[:3]) == Decimal("0.3")  # 0.1 + 0.1 + 0.1 as floats is 0.30000000000000004
    assert usage.lines[3].subtotal == Decimal("12345678901.123456789012345")
    assert usage.dedicated is not None and usage.dedicated.subtotal == usage.total


async def test_the_longest_and_the_earliest_window(client: BasetenClient, billing: FakeBaseten) -> None:
    """31 dates from the first Baseten has: answered (the fake refuses what Baseten would)."""
    usage = await client.usage_summary(date(2026, 1, 1), date(2026, 1, 31))
    assert usage.lines == () and usage.total == 0 and usage.days == 31
    assert billing.billing_requests()[0].query["end_date"] == ["2026-01-31T23:59:59Z"]
    one = await client.usage_summary(date(2026, 3, 7), date(2026, 3, 7))
    assert [line.id for line in one.lines] == ["cl1abc"]


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        (date(2025, 12, 31), date(2026, 1, 5), "2026-01-01"),
        (date(2026, 3, 7), date(2026, 3, 6), "ends before it starts"),
        (date(2026, 3, 1), date(2026, 4, 1), "at most 31 days"),  # 32 dates
    ],
)
async def test_a_window_baseten_refuses_is_never_sent(
    client: BasetenClient, billing: FakeBaseten, start: date, end: date, words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        await client.usage_summary(start, end)
    with pytest.raises(TypeError):
        await client.usage_summary(datetime(2026, 3, 1, tzinfo=UTC), END)
    assert billing.billing_requests() == []


async def test_prices_by_instance_type(client: BasetenClient, billing: FakeBaseten) -> None:
    billing.set_price("4x H100 (320 GiB)", "0.43332", type_id="H100:4x", gpu_type="H100")
    prices = await client.instance_type_prices()
    assert prices.currency == "USD"
    assert prices.of(L4) == Decimal("0.01414") and prices.of("L4") == Decimal("0.01414")  # by name, or id
    assert prices.of("4x H100 (320 GiB)") == Decimal("0.43332") and prices.of("H100:4x") == Decimal("0.43332")
    assert prices.of("1x A10G") is None and prices.of(None) is None
    assert all(type(p) is Decimal for p in prices.per_minute.values())
    rate = burn(2, prices.per_minute[L4])  # two replicas up now
    assert (rate.per_hour, rate.per_day) == (Decimal("1.69680"), Decimal("40.72320"))
    (seen,) = billing.billing_requests()
    assert (seen.path, seen.query) == (PRICES, {})


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error"), [(403, AuthError), (500, Unavailable), (503, Unavailable)])
@pytest.mark.parametrize("path", [USAGE, PRICES])
async def test_a_fault_is_the_clients_error(
    client: BasetenClient, billing: FakeBaseten, status: int, error: type[Exception], path: str
) -> None:
    billing.billing_fail(status, path)
    with pytest.raises(error) as raised:
        await read(client, path)
    if status == 403:
        assert "billing" in str(raised.value) and "(403)" in str(raised.value)
        assert isinstance(raised.value, AuthError) and raised.value.status_code == 403
        assert len(billing.billing_requests()) == 1  # a refusal is not retried
    else:
        assert len(billing.billing_requests()) == 4  # retried, then given up
    billing.billing_fail(None)
    assert await read(client, path)  # and it answers again


async def test_a_key_baseten_does_not_know_and_a_refused_window(billing: FakeBaseten) -> None:
    bad_key = BasetenClient(api_key="nope", base_url=billing.url, limiter=RateLimiter(1000), timeout=2.0)
    with pytest.raises(AuthError, match="401"):
        await bad_key.instance_type_prices()
    await bad_key.aclose()
    client = BasetenClient(api_key=API_KEY, base_url=billing.url, limiter=RateLimiter(1000), timeout=2.0)
    billing.script(USAGE, Canned(400, {"error": "Date range cannot exceed 31 days"}))  # Baseten counts otherwise
    with pytest.raises(BadResponse, match="400"):
        await client.usage_summary(START, END)
    await client.aclose()


# -- answers the bot cannot read ------------------------------------------------------------------


def resource(res_id: str = "dep1", **fields: Any) -> dict[str, Any]:
    return {"id": res_id, "kind": "MODEL_DEPLOYMENT", "name": "v1", "model_name": "m", "is_deleted": False, **fields}


def item(res_id: str, subtotal: str, **fields: Any) -> dict[str, Any]:
    """A DedicatedItemV1 whose subtotal is written as a JSON number `subtotal` (raw, by summary_raw)."""
    return {
        "billable_resource": resource(res_id),
        "subtotal": f"@{subtotal}@",
        "minutes": 1,
        "inference_requests": 1,
        "daily": [{"date": "2026-03-01", "subtotal": f"@{subtotal}@", "minutes": 1, "inference_requests": 1}],
        **fields,
    }


def summary(items: list[dict[str, Any]], **part: Any) -> dict[str, Any]:
    dedicated = {"subtotal": "1", "credits_used": "0", "total": "1", "minutes": 1, "breakdown": items, **part}
    return {"dedicated_usage": dedicated, "training_usage": None, "model_apis_usage": None}


def summary_raw(items: list[dict[str, Any]], subtotal: str) -> bytes:
    """A summary whose amounts marked `@…@` are JSON numbers written digit for digit."""
    text = json.dumps(summary(items, subtotal=f"@{subtotal}@", total=f"@{subtotal}@"))
    return text.replace('"@', "").replace('@"', "").encode()


def priced(name: str, price: Any, type_id: str | None = None) -> dict[str, Any]:
    kind = {"id": type_id or name, "name": name, "memory_limit_mib": 1, "millicpu_limit": 1, "gpu_count": 0}
    return {"instance_type": {**kind, "gpu_type": None, "gpu_memory_limit_mib": None}, "price": price}


ONE = summary([{**item("dep1", "1"), "subtotal": "1", "daily": []}])
ITEM = ONE["dedicated_usage"]["breakdown"][0]


def usage_with(**fields: Any) -> bytes:
    """ONE's body with the one item's `fields` replaced, or with the dedicated part's (`part_…`)."""
    part = {k.removeprefix("part_"): v for k, v in fields.items() if k.startswith("part_")}
    changed = {k: v for k, v in fields.items() if not k.startswith("part_")}
    return json.dumps(summary([{**ITEM, **changed}], **part)).encode()


def prices_of(*listed: dict[str, Any]) -> bytes:
    return json.dumps({"instance_types": list(listed)}).encode()


SPEC_ALLOWS = [  # each valid against its answer's schema (as Python's jsonschema reads it), none readable
    (USAGE, usage_with(minutes=-5)),  # the spec bounds no count
    (USAGE, usage_with(inference_requests=-1)),
    (USAGE, usage_with(part_total="1000000000000")),  # a trillion dollars: garbled, not a bill
    (USAGE, usage_with(part_subtotal=1e300)),
    (USAGE, usage_with(part_credits_used="-99999999999999.5")),
    (USAGE, b'{"dedicated_usage": {"subtotal": 1e999999999, "credits_used": 0, "total": 0, "minutes": 0}}'),
    (USAGE, b'{"dedicated_usage": {"subtotal": 1e-999999999, "credits_used": 0, "total": 0, "minutes": 0}}'),
    (PRICES, prices_of(priced("1x L4", -0.01))),
    (PRICES, prices_of(priced("1x L4", 0.01, "a"), priced("1x L4", 0.02, "b"))),  # one name, two prices
    (PRICES, prices_of(priced("1x L4", 0.01, "L4"), priced("L4 again", 0.02, "L4"))),  # one id, two prices
    (PRICES, prices_of(priced("1x L4", 1e12))),
]
# what Python's jsonschema lets by but the spec does not: its patterns are ECMA 262's (`\d` is ASCII, `$`
# is the end), and its formats (a day's `date`) are checked here with a format checker
ECMA_ONLY = [
    (USAGE, usage_with(part_subtotal="1.5\n")),
    (USAGE, usage_with(part_subtotal="\u0661\u0662")),  # Arabic-Indic digits
]
OFF_SPEC = [
    *ECMA_ONLY,
    (USAGE, b"not json"),
    (USAGE, b"[]"),
    (USAGE, b'{"dedicated_usage": {"subtotal": NaN, "credits_used": 0, "total": 0, "minutes": 0}}'),
    (USAGE, b'{"dedicated_usage": {"subtotal": -Infinity, "credits_used": 0, "total": 0, "minutes": 0}}'),
    (USAGE, usage_with(part_subtotal="1e5")),  # the spec's decimal strings have no exponent
    (USAGE, usage_with(part_subtotal="NaN")),
    (USAGE, usage_with(part_subtotal="")),
    (USAGE, usage_with(part_subtotal="-")),
    (USAGE, usage_with(part_subtotal=True)),
    (USAGE, usage_with(part_subtotal=None)),
    (USAGE, usage_with(part_minutes=1.5)),
    (USAGE, usage_with(part_minutes="1")),
    (USAGE, json.dumps({"dedicated_usage": {"subtotal": 1, "credits_used": 0, "total": 1}}).encode()),
    (USAGE, usage_with(inference_requests=None)),
    (USAGE, usage_with(subtotal=[1])),
    (USAGE, usage_with(billable_resource=resource(kind="GPU"))),  # a kind the spec does not name
    (USAGE, usage_with(billable_resource={"id": "x", "kind": "CHAINLET"})),  # no is_deleted
    (USAGE, usage_with(billable_resource=resource(chain_metadata={"chain_name": "rag"}))),
    (
        USAGE,
        usage_with(daily=[{"date": "2026-03-01T00:00:00Z", "subtotal": "1", "minutes": 1, "inference_requests": 1}]),
    ),
    (USAGE, usage_with(daily=[{"date": "2026-03-01", "subtotal": "1", "minutes": 1}])),  # a day without requests
    (USAGE, b'{"dedicated_usage": {"subtotal": 1' + b"0" * 5000 + b', "credits_used": 0, "total": 0, "minutes": 0}}'),
    (USAGE, b"[" * 100_000 + b"]" * 100_000),
    (USAGE, b"\xff\xfe"),
    (PRICES, prices_of(priced("1x L4", "0.01414"))),  # a price is a number
    (PRICES, prices_of(priced("1x L4", None))),
    (PRICES, prices_of({"price": 0.1})),
    (PRICES, b"{}"),
]
CHECK = {
    path: Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    for path, name in ((USAGE, "UsageSummaryV1"), (PRICES, "InstanceTypePricesV1"))
}


def _strict_json(raw: bytes) -> Any:
    """JSON as RFC 8259 has it (no NaN, no infinities), or None."""

    def refuse(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(raw, parse_constant=refuse)
    except (ValueError, RecursionError):
        return None


def test_the_unreadable_answers_are_ones_the_spec_allows() -> None:
    assert all(not list(CHECK[path].iter_errors(json.loads(raw))) for path, raw in SPEC_ALLOWS)
    assert not list(CHECK[USAGE].iter_errors(ONE))
    refused = [(path, raw) for path, raw in OFF_SPEC if (path, raw) not in ECMA_ONLY]
    assert all(_strict_json(raw) is None or list(CHECK[path].iter_errors(_strict_json(raw))) for path, raw in refused)


async def read(client: BasetenClient, path: str) -> object:
    return await (client.usage_summary(START, END) if path == USAGE else client.instance_type_prices())


@pytest.mark.parametrize(("path", "raw"), SPEC_ALLOWS)
async def test_an_answer_the_spec_allows_but_the_bot_cannot_read_is_bad(
    client: BasetenClient, billing: FakeBaseten, path: str, raw: bytes
) -> None:
    billing.script(path, Canned(200, raw=raw))  # checked against the spec by the fake as it goes out
    with pytest.raises(BadResponse, match="cannot read"):
        await read(client, path)


@pytest.mark.parametrize(("path", "raw"), OFF_SPEC)
async def test_a_body_that_is_not_the_spec_is_bad(
    client: BasetenClient, billing: FakeBaseten, path: str, raw: bytes
) -> None:
    billing.script(path, Canned(200, raw=raw, off_spec=True))
    with pytest.raises(BadResponse, match="cannot read"):
        await read(client, path)


async def test_the_readable_bodies_are_read(client: BasetenClient, billing: FakeBaseten) -> None:
    billing.script(USAGE, Canned(200, ONE))
    billing.script(PRICES, Canned(200, {"instance_types": [priced("1x L4", 0.01414, "L4"), priced("1x L4", 0.01414)]}))
    assert (await client.usage_summary(START, END)).total == Decimal(1)
    assert (await client.instance_type_prices()).of("1x L4") == Decimal("0.01414")  # the same price twice is one


# -- the fake checks what it is sent ----------------------------------------------------------------


def test_the_fake_checks_the_billing_query_against_the_spec(billing: FakeBaseten) -> None:
    """A parameter the spec does not name, a date that is not a date-time, a missing end: violations."""
    headers = {"Authorization": f"Api-Key {API_KEY}"}
    url = f"{billing.url}{USAGE}"
    ok = {"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-03-07T23:59:59Z"}
    assert httpx.get(url, params=ok, headers=headers).status_code == 200 and billing.violations == []
    for query in ({**ok, "team_id": "t1"}, {**ok, "start_date": "2026-03-01"}, {"start_date": ok["start_date"]}):
        httpx.get(url, params=query, headers=headers)
    httpx.get(f"{billing.url}{PRICES}", params={"gpu": "H100"}, headers=headers)
    found, billing.violations[:] = list(billing.violations), []
    assert len(found) == 4, found
    assert "'team_id' is not in the spec" in found[0] and "not a 'date-time'" in found[1]
    assert "'end_date' is missing" in found[2] and "'gpu' is not in the spec" in found[3]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2025-12-31T23:59:59Z", "2026-01-05T00:00:00Z"),  # before the earliest
        ("2026-03-07T00:00:00Z", "2026-03-06T00:00:00Z"),  # ends before it starts
        ("2026-03-01T00:00:00Z", "2026-04-01T00:00:01Z"),  # over 31 days
        ("2026-03-01", "2026-03-07"),  # dates, not date-times
    ],
)
def test_the_fake_refuses_a_window_the_spec_forbids(billing: FakeBaseten, start: str, end: str) -> None:
    headers = {"Authorization": f"Api-Key {API_KEY}"}
    answer = httpx.get(f"{billing.url}{USAGE}", params={"start_date": start, "end_date": end}, headers=headers)
    assert answer.status_code == 400 and isinstance(answer.json()["error"], str)
    billing.violations[:] = []  # dates are a violation too (shown above); the 400 is the point here


# -- answers drawn from the spec -----------------------------------------------------------------------

_usage = instances({"$ref": "#/components/schemas/UsageSummaryV1"})


@st.composite
def _usage_with_days(draw: st.DrawFn) -> dict[str, Any]:
    """A drawn usage summary whose days are mostly dates (the generator draws any string for a `date`)."""
    answer: dict[str, Any] = draw(_usage)
    for part in ("dedicated_usage", "training_usage", "model_apis_usage"):
        for entry in (answer.get(part) or {}).get("breakdown", []):
            for day in entry.get("daily", []):
                day["date"] = draw(st.sampled_from([day["date"], *["2026-03-01"] * 3]))
    return answer


DRAWN = {
    USAGE: st.one_of(_usage, _usage_with_days()),
    PRICES: instances({"$ref": "#/components/schemas/InstanceTypePricesV1"}),
}
PLAIN = {path: Draft202012Validator(check.schema) for path, check in CHECK.items()}  # as the fake checks


class SpecBilling(_Fake):
    """Answers every request with the body drawn for it."""

    def __init__(self) -> None:
        self.body: Any = None
        super().__init__()

    def answer(self, seen: Seen) -> tuple[int, Any, dict[str, str], float, bytes | None]:
        with self.lock:
            return 200, json.loads(json.dumps(self.body)), {}, 0.0, None


@pytest.fixture
def spec_billing() -> Iterator[SpecBilling]:
    fake = SpecBilling()
    yield fake
    fake.close()


@pytest.mark.parametrize("path", [USAGE, PRICES])
def test_the_drawn_answers_are_ones_the_spec_allows(path: str) -> None:
    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(DRAWN[path])
    def drawn(answer: dict[str, Any]) -> None:
        assert not [e.message for e in PLAIN[path].iter_errors(answer)][:3]

    drawn()


FEW = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("path", [USAGE, PRICES])
def test_spec_answers_are_read_or_refused_never_anything_else(spec_billing: SpecBilling, path: str) -> None:
    outcomes: set[str] = set()

    async def once() -> None:
        try:
            answer = await read(client, path)
        except BadResponse:
            outcomes.add("refused")
            return
        assert isinstance(answer, Usage | Prices)
        found = amounts(answer) if isinstance(answer, Usage) else list(answer.per_minute.values())
        assert all(type(a) is Decimal for a in found)
        outcomes.add("read, with money" if found else "read, empty")

    @FEW
    @given(DRAWN[path])
    def drawn(answer: dict[str, Any]) -> None:
        with spec_billing.lock:
            spec_billing.body = answer
        runner.run(once())

    with asyncio.Runner() as runner:
        client = BasetenClient(api_key=API_KEY, base_url=spec_billing.url, limiter=RateLimiter(1000), timeout=2.0)
        try:
            drawn()
        finally:
            runner.run(client.aclose())
    assert outcomes == {"refused", "read, with money", "read, empty"}, outcomes
