"""The promotion guard's spec and verdict (issue 24; CONTRACT.md "The promotion guard"). Pure.

A subscription's `--guard SPEC` is a comma-separated list of `5xx:N%` (the candidate's 5xx rate
above N percent fails), `p95:Nx` (the candidate's p95 above N times the current's fails), `min:N`
(requests before any verdict) and `auto-pause`; or `off`. Each item replaces its part of the
default, `5xx:2%,p95:2x,min:50`, so `--guard auto-pause` keeps the default thresholds.

The verdict compares the candidate's window with the current deployment's, over the same window:
`failing` when a threshold is crossed on data Baseten gave, `watch` while there is too little
traffic or a value is unavailable (with the reason), else `healthy`. Missing data never fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Level = Literal["healthy", "watch", "failing"]

MAX_PERCENT = 100.0
MAX_RATIO = 1000.0
MAX_MIN = 1_000_000_000
MAX_TEXT = 200
_NUMBER = r"(\d{1,6}(?:\.\d{1,4})?)"
_ITEMS = "`5xx:N%`, `p95:Nx`, `min:N`, `auto-pause` or `off`"


@dataclass(frozen=True)
class GuardSpec:
    """What fails a rollout: a 5xx rate above `max_5xx_percent`, a p95 above `max_p95_ratio` times the
    current deployment's; no verdict before `min_requests`. `auto_pause`: the bot pauses a failing
    promotion itself. `off`: no guard at all (the other fields are then meaningless)."""

    max_5xx_percent: float = 2.0
    max_p95_ratio: float = 2.0
    min_requests: int = 50
    auto_pause: bool = False
    off: bool = False


DEFAULT = GuardSpec()
OFF = GuardSpec(off=True)


def parse_guard(text: str) -> GuardSpec:
    """`5xx:2%,p95:2x,min:50,auto-pause` or `off` as a GuardSpec; ValueError says what is wrong."""
    text = text.strip()
    if not text:
        raise ValueError(f"`--guard` needs a value: {_ITEMS}, e.g. `--guard 5xx:2%,p95:2x,min:50`.")
    if len(text) > MAX_TEXT:
        raise ValueError(f"`--guard` is longer than {MAX_TEXT} characters.")
    items = [item.strip() for item in text.lower().split(",")]
    if items == ["off"]:
        return OFF
    fields: dict[str, float | int | bool] = {}
    for item in items:
        name, value = _item(item)
        if name in fields:
            raise ValueError(f"`--guard` gives `{name}` twice.")
        fields[name] = value
    return GuardSpec(
        max_5xx_percent=float(fields.get("5xx", DEFAULT.max_5xx_percent)),
        max_p95_ratio=float(fields.get("p95", DEFAULT.max_p95_ratio)),
        min_requests=int(fields.get("min", DEFAULT.min_requests)),
        auto_pause=bool(fields.get("auto-pause", False)),
    )


def stored(text: str | None) -> GuardSpec:
    """A subscription's guard as stored (None: the default); a value this release cannot read is the
    default, not an error."""
    if text is None:
        return DEFAULT
    try:
        return parse_guard(text)
    except ValueError:
        return DEFAULT


def _item(item: str) -> tuple[str, float | int | bool]:
    """One item of the list: its name and value."""
    if item == "off":
        raise ValueError("`--guard off` stands alone: it turns the whole guard off.")
    if item == "auto-pause":
        return "auto-pause", True
    if not item:
        raise ValueError("`--guard` has an empty item: separate the items with single commas.")
    name, _, value = item.partition(":")
    if name == "5xx":
        match = re.fullmatch(_NUMBER + "%", value)
        percent = float(match.group(1)) if match else None
        if percent is None or percent > MAX_PERCENT:
            raise ValueError(f"`{_shown(item)}`: give the 5xx rate in percent, from 0 to 100, e.g. `5xx:2%`.")
        return "5xx", percent
    if name == "p95":
        match = re.fullmatch(_NUMBER + "x", value)
        ratio = float(match.group(1)) if match else None
        if ratio is None or not 1 <= ratio <= MAX_RATIO:
            raise ValueError(f"`{_shown(item)}`: give p95 as a ratio to the current's, at least 1, e.g. `p95:2x`.")
        return "p95", ratio
    if name == "min":
        if not re.fullmatch(r"\d{1,10}", value) or int(value) > MAX_MIN:
            raise ValueError(f"`{_shown(item)}`: give the minimum as a whole number of requests, e.g. `min:50`.")
        return "min", int(value)
    raise ValueError(f"`--guard` does not know `{_shown(item)}`: use {_ITEMS}.")


def _shown(item: str) -> str:
    """A user's item, short and without backticks, to quote back."""
    return item[:40].replace("`", "'")


def describe(spec: GuardSpec) -> str:
    """The spec as `--guard` takes it, in canonical order: `parse_guard(describe(s)) == s`."""
    if spec.off:
        return "off"
    items = [f"5xx:{_number(spec.max_5xx_percent)}%", f"p95:{_number(spec.max_p95_ratio)}x", f"min:{spec.min_requests}"]
    return ",".join(items + (["auto-pause"] if spec.auto_pause else []))


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


@dataclass(frozen=True)
class Window:
    """One deployment's traffic over the guard's window. None: Baseten gave no such value (`note` says
    why, when the reason is known: a 403, a null, a metric it left out)."""

    requests: float | None = None
    errors_5xx: float | None = None
    p95_seconds: float | None = None
    note: str | None = None

    @property
    def error_percent(self) -> float | None:
        """The 5xx rate in percent; None without requests (or with more 5xx than requests: unreadable)."""
        if self.requests is None or self.errors_5xx is None or self.requests <= 0:
            return None
        if self.errors_5xx > self.requests:
            return None
        return 100 * self.errors_5xx / self.requests


def unavailable(reason: str) -> Window:
    """A window with no values at all: the metrics could not be read (`reason` says why)."""
    return Window(note=reason)


@dataclass(frozen=True)
class Measure:
    """One threshold's comparison: the metric, the candidate's and the current's values, the threshold
    as the spec says it, and the candidate's value above which it fails (None when not known)."""

    metric: Literal["5xx rate", "p95"]
    candidate: float | None
    current: float | None
    threshold: str
    limit: float | None
    failing: bool = False


@dataclass(frozen=True)
class Verdict:
    level: Level
    reasons: list[str] = field(default_factory=list)
    measures: list[Measure] = field(default_factory=list)

    @property
    def failing(self) -> list[Measure]:
        return [m for m in self.measures if m.failing]


def verdict(spec: GuardSpec, candidate: Window, current: Window, *, baseline: str = "current") -> Verdict:
    """The candidate judged against the current deployment over the same window.

    No verdict before `min_requests` (watch: too little traffic); a threshold only fails on values
    Baseten gave (a missing one is watch, with the reason); `failing` names each crossed threshold.
    p95 is compared only when the baseline served `min_requests` too: a p95 of a few requests (the
    current near the end of a rollout) is noise, not a reference. `baseline` names it in the reasons:
    `current`, or `replaced` after a promotion."""
    if spec.off:
        raise ValueError("the guard is off: there is nothing to judge")
    if candidate.requests is None:
        return Verdict("watch", [_missing("requests", "candidate", candidate)])
    if candidate.requests < spec.min_requests or candidate.requests <= 0:
        got = _count(candidate.requests)
        return Verdict("watch", [f"too little traffic ({got} of min {spec.min_requests} requests)"])
    measures = [_errors(spec, candidate, current), _latency(spec, candidate, current, baseline)]
    reasons = [_crossed(m, baseline) for m in measures if m.failing]
    if reasons:
        return Verdict("failing", reasons, measures)
    gaps = [_gap(m, spec, candidate, current, baseline) for m in measures]
    reasons = [g for g in gaps if g is not None]
    return Verdict("watch" if reasons else "healthy", reasons, measures)


def _errors(spec: GuardSpec, candidate: Window, current: Window) -> Measure:
    rate = candidate.error_percent
    limit = spec.max_5xx_percent
    # errors × 100 > limit × requests: the exact comparison, free of a division's rounding at the edge
    failing = (
        rate is not None
        and candidate.errors_5xx is not None
        and candidate.requests is not None
        and candidate.errors_5xx * 100 > limit * candidate.requests
    )
    threshold = f"{_number(limit)}%"
    return Measure("5xx rate", rate, current.error_percent, threshold, limit, failing)


def _latency(spec: GuardSpec, candidate: Window, current: Window, baseline: str) -> Measure:
    mine, theirs = candidate.p95_seconds, current.p95_seconds
    usable = theirs is not None and theirs > 0 and not _too_few(spec, current)
    limit = spec.max_p95_ratio * theirs if usable and theirs is not None else None
    failing = mine is not None and limit is not None and mine > limit
    return Measure("p95", mine, theirs, f"{_number(spec.max_p95_ratio)}x the {baseline}'s", limit, failing)


def _too_few(spec: GuardSpec, w: Window) -> bool:
    """The baseline served fewer than `min_requests`, none, or an unknown number: its p95 is no reference."""
    return w.requests is None or w.requests < spec.min_requests or w.requests <= 0


def _crossed(m: Measure, baseline: str) -> str:
    if m.metric == "5xx rate":
        current = f"; {baseline} {percent(m.current)}" if m.current is not None else ""
        return f"5xx rate {percent(m.candidate)} is above {m.threshold}{current}"
    return f"p95 {seconds(m.candidate)} is above {m.threshold} {seconds(m.current)} ({seconds(m.limit)})"


def _gap(m: Measure, spec: GuardSpec, candidate: Window, current: Window, baseline: str) -> str | None:
    """Why this threshold could not be judged, or None."""
    if m.metric == "5xx rate":
        if m.candidate is not None:
            return None
        if candidate.errors_5xx is not None and candidate.requests is not None:
            return "metrics unavailable: the candidate's 5xx count is above its request count"
        return _missing("5xx rate", "candidate", candidate)
    if m.candidate is None:
        return _missing("p95", "candidate", candidate)
    if m.current is None:
        return _missing("p95", f"{baseline} deployment", current)
    if current.requests is None:
        return _missing("requests", f"{baseline} deployment", current)
    if _too_few(spec, current):
        got = _count(current.requests)
        return f"too little traffic on the {baseline} deployment to compare p95 ({got} of min {spec.min_requests})"
    if m.limit is None:
        return f"the {baseline} deployment's p95 is 0: nothing to compare the candidate's with"
    return None


def _missing(what: str, whose: str, window: Window) -> str:
    why = f" ({window.note})" if window.note else ""
    return f"metrics unavailable: the {whose}'s {what}{why}"


def _count(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:,.1f}"


def percent(value: float | None) -> str:
    """A rate as shown: `8%`, `0.25%`, `n/a`."""
    if value is None:
        return "n/a"
    if 0 < value < 0.01:
        return "<0.01%"
    return f"{value:.2f}".rstrip("0").rstrip(".") + "%"


def seconds(value: float | None) -> str:
    """A latency as shown: `850 ms`, `1.25 s`, `n/a`."""
    if value is None:
        return "n/a"
    if value < 0.9995:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f}".rstrip("0").rstrip(".") + " s"


ROLLOUT, AFTER = "rollout", "after"  # a comparison while a promotion runs, and after it succeeded


@dataclass(frozen=True)
class Check:
    """One comparison: `candidate` (the promotion's candidate, or the new current) against `baseline`
    (the environment's current deployment, or the one the promotion replaced)."""

    model_id: str
    environment: str
    key: str
    phase: str
    candidate_id: str
    candidate_name: str
    baseline_id: str
    baseline_name: str
    started_at: datetime
    ends_at: datetime | None = None
    checked_at: datetime | None = None
    candidate: Window | None = None
    current: Window | None = None
    announced: frozenset[str] = frozenset()
    paused_at: datetime | None = None


@dataclass(frozen=True)
class Promoted:
    """A `promoted` change as recorded: `new_id` became current in `environment`, replacing `previous_id`."""

    transition_id: int
    model_id: str
    environment: str
    new_id: str
    new_name: str
    previous_id: str | None
    previous_name: str
    at: datetime
