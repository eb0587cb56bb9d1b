"""Percentiles for the benchmark scripts, one definition for both."""

from __future__ import annotations

import math
from collections.abc import Sequence


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The q-quantile by nearest rank: of n sorted values, the one at index ceil(q*n)-1.

    So p99 of 200 values is the 198th smallest (index 197), and p99 of 100 is the 99th.
    """
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def bucket_bound(buckets: Sequence[tuple[float, float]], q: float) -> float:
    """The smallest histogram bound that at least the q share of observations fall under.

    `buckets` are Prometheus's cumulative (le, count) pairs, ending with (inf, total):
    the q-quantile is at most the bound returned (inf when it lies past the last bound).
    """
    ordered = sorted(buckets)
    total = ordered[-1][1] if ordered else 0
    if not total:
        return 0.0
    wanted = math.ceil(q * total)
    return next(le for le, count in ordered if count >= wanted)
