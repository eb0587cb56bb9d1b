"""What the API mixins (bot.baseten.runs_api, bot.baseten.metrics_api) use of BasetenClient: its GET,
with retries, the shared limiter and judging. BasetenClient defines it; the mixins inherit the stub."""

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
