"""What the API mixins (bot.baseten.runs_api, bot.baseten.metrics_api, bot.baseten.billing_api) use of
BasetenClient: its GET, with retries, the shared limiter and judging, or the same GET's body as bytes
for a mixin that reads it itself. BasetenClient defines both; the mixins inherit the stubs."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from bot.baseten.paths import Query

T = TypeVar("T", bound=BaseModel)


class Transport:
    async def _get(
        self,
        path: str,
        shape: type[T],
        *,
        params: Query | None = None,
        interactive: bool,
        judge: bool = True,
    ) -> T:
        raise NotImplementedError  # BasetenClient's

    async def _get_bytes(self, path: str, *, params: Query | None = None, interactive: bool) -> bytes:
        raise NotImplementedError  # BasetenClient's
