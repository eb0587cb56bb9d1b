"""The fake Baseten's billing: usage summaries and instance type prices, as its published spec shapes them
(issue 25, what GPUs cost).

Mixed into tests.fakes.FakeBaseten: the same server, lock, request log and spec checks (every answer here
is checked against management.json's UsageSummaryV1 and InstanceTypePricesV1 by FakeBaseten.answer, every
query against the operation's parameters, `format: date-time` included, by tests.spec).

`GET /v1/billing/usage_summary?start_date&end_date` answers as the spec says:
- both dates are required date-times (ISO 8601, UTC; one without an offset is read as UTC); the start may
  not be before 2026-01-01, the end not before the start, the range not over 31 days: else a 400;
- the answer holds the scripted usage of the days whose UTC date falls in the window: a breakdown item
  per billable resource with any (deployments and chainlets under `dedicated_usage`, training jobs under
  `training_usage`, without request counts, as TrainingItemV1 has none), its `daily[]` by date;
- a part's `total` is the sum of its items' subtotals, `credits_used` the scripted credits (dedicated
  usage only), and `subtotal` ("after applying credits used") the total less the credits. This reading of
  the three is the fake's: the spec does not say how they relate.

Money goes out as the spec allows it, a JSON number or a decimal string: by `money_as`, "number",
"string", or "both" (the default: alternately, so one answer holds both).

`GET /v1/instance_type_prices` lists the scripted instance types, each with its price in USD a minute
(a JSON number: the spec types it so). `billing_fail` makes either endpoint answer a fault (403: a key
without billing access; 500) until it is called with None.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

USAGE = "/v1/billing/usage_summary"
PRICES = "/v1/instance_type_prices"
EARLIEST = datetime(2026, 1, 1, tzinfo=UTC)
MAX_RANGE = timedelta(days=31)
L4 = "1x L4 (24 GiB)"  # the instance type of tests.fakes' deployments
H100 = "1x H100 (80 GiB)"
FAULT_WORDS = {403: "Forbidden", 429: "Too many requests"}


@dataclass
class Billed:
    """One billable resource (BillableResourceV1) and its usage by day: (subtotal, minutes, requests)."""

    id: str
    kind: str
    name: str | None
    model_name: str | None
    instance_type: str | None
    environment: str | None
    is_deleted: bool
    chain: dict[str, Any] | None
    days: dict[date, tuple[Decimal, int, int]] = field(default_factory=dict)

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "model_name": self.model_name,
            "is_deleted": self.is_deleted,
            "instance_type": self.instance_type,
            "environment_name": self.environment,
            "chain_metadata": self.chain,
        }


def instance_type(type_id: str, name: str, gpu_type: str | None, gpu_count: int) -> dict[str, Any]:
    """An InstanceTypeV1 with every required field."""
    return {
        "id": type_id,
        "name": name,
        "memory_limit_mib": 16384 * max(gpu_count, 1),
        "millicpu_limit": 4000 * max(gpu_count, 1),
        "gpu_count": gpu_count,
        "gpu_type": gpu_type,
        "gpu_memory_limit_mib": 24576 * gpu_count if gpu_type else None,
    }


def parse_date_time(raw: str) -> datetime | None:
    """A query's date-time as Baseten reads one (ISO 8601, UTC when it names no offset), or None."""
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if "T" not in raw.upper():
        return None  # a date alone is not a date-time
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class BillingFake:
    """Usage and prices: scripted resources, days and prices, faults, and the route FakeBaseten sends to."""

    lock: threading.Lock
    requests: list[Any]  # tests.fakes._Fake's request log

    def __init__(self) -> None:
        self.billed: dict[str, Billed] = {}
        self.credits = Decimal(0)
        catalog = [
            ("1x2", "1x2 (CPU)", None, "0.00058"),
            ("L4", L4, "L4", "0.01414"),
            ("H100", H100, "H100", "0.10833"),
        ]
        self.prices: dict[str, tuple[dict[str, Any], Decimal]] = {
            name: (instance_type(type_id, name, gpu, 1 if gpu else 0), Decimal(price))
            for type_id, name, gpu, price in catalog
        }
        self.billing_faults: dict[str, int] = {}
        self.money_as = "both"
        self._amounts = 0
        super().__init__()

    # -- script -------------------------------------------------------------------

    def add_billed(
        self,
        resource_id: str,
        *,
        kind: str = "MODEL_DEPLOYMENT",
        name: str | None = None,
        model_name: str | None = None,
        instance_type: str | None = L4,
        environment: str | None = None,
        is_deleted: bool = False,
        chain: tuple[str, str | None] | None = None,
    ) -> None:
        """A billable resource; `chain` is a chainlet's (chain id, chain name)."""
        meta = None if chain is None else {"chain_id": chain[0], "chain_name": chain[1], "chain_deployment_id": "cd1"}
        with self.lock:
            self.billed[resource_id] = Billed(
                resource_id, kind, name, model_name, instance_type, environment, is_deleted, meta
            )

    def add_usage(self, resource_id: str, day: date, subtotal: str, *, minutes: int, requests: int = 0) -> None:
        """One day of a resource's usage (added with add_billed): `subtotal` dollars as a decimal string."""
        with self.lock:
            self.billed[resource_id].days[day] = (Decimal(subtotal), minutes, requests)

    def set_price(self, name: str, per_minute: str, *, type_id: str | None = None, gpu_type: str | None = None) -> None:
        """An instance type (by its display name) and its price in USD a minute."""
        with self.lock:
            self.prices[name] = (
                instance_type(type_id or name, name, gpu_type, 1 if gpu_type else 0),
                Decimal(per_minute),
            )

    def billing_fail(self, status: int | None, *paths: str) -> None:
        """From the next request on, these endpoints (both by default) answer `status`; None: data again."""
        with self.lock:
            for path in paths or (USAGE, PRICES):
                if status is None:
                    self.billing_faults.pop(path, None)
                else:
                    self.billing_faults[path] = status

    def billing_requests(self) -> list[Any]:
        with self.lock:
            return [r for r in self.requests if r.path in (USAGE, PRICES)]

    # -- answers ------------------------------------------------------------------

    def _money(self, amount: Decimal) -> float | str:
        """An amount as the spec allows it: a JSON number or a decimal string (by `money_as`)."""
        self._amounts += 1
        as_string = self.money_as == "string" or (self.money_as == "both" and self._amounts % 2 == 0)
        return str(amount) if as_string else float(amount)

    def _billing(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        """(under the lock) The answer to a billing request."""
        fault = self.billing_faults.get(path)
        if fault is not None:
            words = FAULT_WORDS.get(fault, "Internal server error")
            return fault, {"error": words, "retry_after": 1} if fault == 429 else {"error": words}
        if path == PRICES:
            listed = [{"instance_type": kind, "price": float(price)} for kind, price in self.prices.values()]
            return 200, {"instance_types": listed}
        q = {k: v[-1] for k, v in query.items()}
        start, end = (parse_date_time(q.get(k, "")) for k in ("start_date", "end_date"))
        if start is None or end is None:
            return 400, {"error": "start_date and end_date must be ISO 8601 date-times"}
        if start < EARLIEST:
            return 400, {"error": "start_date cannot be earlier than 2026-01-01"}
        if end < start or end - start > MAX_RANGE:
            return 400, {"error": "Date range must end after it starts and cannot exceed 31 days"}
        first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
        dedicated = [b for b in self.billed.values() if b.kind != "TRAINING_JOB"]
        training = [b for b in self.billed.values() if b.kind == "TRAINING_JOB"]
        return 200, {
            "dedicated_usage": self._part(dedicated, first, last, credits=self.credits, counted=True),
            "training_usage": self._part(training, first, last, credits=Decimal(0), counted=False),
            "model_apis_usage": None,
        }

    def _part(
        self, billed: list[Billed], first: date, last: date, *, credits: Decimal, counted: bool
    ) -> dict[str, Any]:
        """DedicatedUsageV1 (`counted`: with inference requests) or TrainingUsageV1, of the days first..last."""
        items = []
        for b in billed:
            days = sorted((d, v) for d, v in b.days.items() if first <= d <= last)
            if not days:
                continue
            daily = [
                {"date": d.isoformat(), "subtotal": self._money(s), "minutes": m}
                | ({"inference_requests": r} if counted else {})
                for d, (s, m, r) in days
            ]
            item = {
                "billable_resource": b.resource(),
                "subtotal": self._money(sum((v[0] for _, v in days), Decimal(0))),
                "minutes": sum(v[1] for _, v in days),
                "daily": daily,
            }
            if counted:
                item["inference_requests"] = sum(v[2] for _, v in days)
            items.append((sum((v[0] for _, v in days), Decimal(0)), item))
        total = sum((amount for amount, _ in items), Decimal(0))
        return {
            "subtotal": self._money(total - credits),
            "credits_used": self._money(credits),
            "total": self._money(total),
            "minutes": sum(int(item["minutes"]) for _, item in items),
            "breakdown": [item for _, item in items],
        }
