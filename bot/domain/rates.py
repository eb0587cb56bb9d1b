"""The request budget's margin, shared by the rate limiter and the poll schedule."""

from __future__ import annotations

# Aim 5% under BASETEN_MAX_RPS: it absorbs the jitter between a request's start in the bot and
# its arrival at Baseten (bench/run.py measures the peak seen there).
HEADROOM = 0.95
