"""The billing endpoints (`GET /v1/billing/usage_summary`, `GET /v1/instance_type_prices`), read for what
GPUs cost (issue 25). Answers are read by bot.baseten.billing into bot.domain.cost's values.

A mixin of BasetenClient: its transport (retries, the shared limiter, 5xx as Unavailable) is the client's.
A key without billing access is answered 403: AuthError, saying so.
"""

from __future__ import annotations

from datetime import date, datetime

from bot.baseten.billing import parse_prices, parse_usage
from bot.baseten.errors import AuthError
from bot.baseten.transport import Transport
from bot.domain.cost import Prices, Usage, window_problem

USAGE = "/v1/billing/usage_summary"
PRICES = "/v1/instance_type_prices"
NO_BILLING = "this Baseten API key may not read billing (403): usage and prices need a key with billing access"


def usage_params(start: date, end: date) -> dict[str, str]:
    """The usage summary's query, and only it: whole UTC days, `start` and `end` both included, as the
    spec's date-times (its `start_date` and `end_date` are `format: date-time`, "ISO 8601, UTC"). The end
    is the last second of its day, so the window spans under 31 days when it has 31 dates (which the
    spec's "cannot exceed 31 days" allows however Baseten counts) and names `end` as its day if Baseten
    reads only the date."""
    if isinstance(start, datetime) or isinstance(end, datetime):
        raise TypeError("a usage window is whole days: pass dates, not datetimes")
    problem = window_problem(start, end)
    if problem is not None:
        raise ValueError(f"not a usage window Baseten answers: {problem}")
    return {"start_date": f"{start.isoformat()}T00:00:00Z", "end_date": f"{end.isoformat()}T23:59:59Z"}


class BillingApi(Transport):
    """What the workspace spent (the usage summary) and what an instance type costs a minute (prices)."""

    async def usage_summary(self, start: date, end: date, *, interactive: bool = False) -> Usage:
        """The usage summary of UTC days `start` to `end`, both included: a line per deployment, chainlet
        and training job Baseten bills, and the bill's parts. A window Baseten refuses (before 2026-01-01,
        ending before it starts, over 31 days) is a ValueError, and nothing is sent."""
        params = usage_params(start, end)
        raw = await self._billing(USAGE, params, interactive=interactive)
        return parse_usage(raw, start, end, what=USAGE)

    async def instance_type_prices(self, *, interactive: bool = False) -> Prices:
        """The price per minute, in USD, of every instance type, by name (and by id)."""
        return parse_prices(await self._billing(PRICES, None, interactive=interactive), what=PRICES)

    async def _billing(self, path: str, params: dict[str, str] | None, *, interactive: bool) -> bytes:
        try:
            return await self._get_bytes(path, params=params, interactive=interactive)
        except AuthError as exc:
            if exc.status_code == 403:
                raise AuthError(403, NO_BILLING) from None
            raise
