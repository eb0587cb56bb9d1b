"""A cost report as values (CONTRACT.md "Cost"): which usage lines belong to a target, the top spenders,
the change against the window before and the burn rate now. Pure: bot.cost reads Baseten, this sums,
bot.render.cost shows.

Amounts stay exact Decimals here; only bot.render.cost rounds them, once, to show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.domain.cost import CURRENCY, Burn, Kind, Prices, Usage, UsageLine, burn, per_thousand, total
from bot.domain.subjects import Kind as Subject

TOP = 10  # deployments shown by name; the rest are one line, "and N more ($X)"


@dataclass(frozen=True)
class Scope:
    """What a report is about: a model, chain or training project (`subject`, its own id and name), or the
    whole workspace (`subject` None). `deployment_ids` are a model's deployments the bot could list."""

    subject: Subject | None = None
    own_id: str = ""
    name: str = ""
    deployment_ids: frozenset[str] = frozenset()

    def holds(self, line: UsageLine) -> bool:
        """Whether a usage line is this scope's: a model's by its deployment ids, else by the model's name;
        a chain's chainlets by the chain's id; a training project's jobs by the project's name."""
        if self.subject is None:
            return True
        if self.subject is Subject.MODEL:
            return line.kind == "MODEL_DEPLOYMENT" and (
                line.id in self.deployment_ids or (line.parent is not None and line.parent == self.name)
            )
        if self.subject is Subject.CHAIN:
            return line.kind == "CHAINLET" and line.chain_id == self.own_id
        return line.kind == "TRAINING_JOB" and line.parent is not None and line.parent == self.name


@dataclass(frozen=True)
class Row:
    """One billable resource's spend in the window, as a report lists it."""

    id: str
    kind: Kind
    name: str
    parent: str | None  # the model, chain or training project it belongs to, by name
    subtotal: Decimal
    minutes: int
    requests: int | None  # None: not counted (a training job)
    per_thousand: Decimal | None
    deleted: bool = False


@dataclass(frozen=True)
class Running:
    """Something with replicas up now: a deployment or a chainlet, its replicas and instance type."""

    name: str
    replicas: int
    instance_type: str | None


@dataclass(frozen=True)
class BurnNow:
    """What the replicas up now cost. `unpriced`: instance types Baseten lists no price for (left out);
    `unread`: why some deployments could not be counted (None: every one was)."""

    rate: Burn
    replicas: int
    unpriced: tuple[str, ...] = ()
    unread: str | None = None


@dataclass(frozen=True)
class Report:
    """A cost report. `before` is None when the window before cannot be compared (`before_note` says why);
    `burn` is None when it could not be measured (`burn_note` says why)."""

    scope: Scope
    start: date
    end: date
    rows: tuple[Row, ...]
    more: int
    more_total: Decimal
    total: Decimal
    minutes: int
    requests: int | None
    before: Decimal | None
    before_note: str | None = None
    burn: BurnNow | None = None
    burn_note: str | None = None
    currency: str = CURRENCY

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def row(line: UsageLine) -> Row:
    parent = (line.chain_name or line.chain_id) if line.kind == "CHAINLET" else line.parent
    return Row(
        id=line.id,
        kind=line.kind,
        name=line.display_name,
        parent=parent,
        subtotal=line.subtotal,
        minutes=line.minutes,
        requests=line.inference_requests,
        per_thousand=per_thousand(line.subtotal, line.inference_requests),
        deleted=line.is_deleted,
    )


def ranked(lines: Iterable[UsageLine]) -> list[UsageLine]:
    """Largest spend first; ties by id, so a report reads the same every time."""
    return sorted(lines, key=lambda line: (-line.subtotal, line.id))


def burn_now(running: Sequence[Running], prices: Prices, *, unread: str | None = None) -> BurnNow:
    """The burn rate of what runs now: replicas × the instance type's price a minute, summed exactly."""
    rate = Burn(Decimal(0), Decimal(0))
    replicas = 0
    unpriced: list[str] = []
    for item in running:
        if item.replicas <= 0:
            continue
        price = prices.of(item.instance_type)
        if price is None:
            unpriced.append(item.instance_type or "an unnamed instance type")
            continue
        one = burn(item.replicas, price)
        rate = Burn(rate.per_hour + one.per_hour, rate.per_day + one.per_day)
        replicas += item.replicas
    return BurnNow(rate, replicas, tuple(dict.fromkeys(unpriced)), unread)


def report(
    scope: Scope,
    usage: Usage,
    before: Usage | None,
    *,
    before_note: str | None = None,
    burn: BurnNow | None = None,
    burn_note: str | None = None,
) -> Report:
    """The report of `scope` in `usage`'s window, against `before` (the window just before, or None)."""
    mine = ranked(line for line in usage.lines if scope.holds(line))
    counted = [line.inference_requests for line in mine if line.inference_requests is not None]
    rest = mine[TOP:]
    earlier = None if before is None else total(line for line in before.lines if scope.holds(line))
    return Report(
        scope=scope,
        start=usage.start,
        end=usage.end,
        rows=tuple(row(line) for line in mine[:TOP]),
        more=len(rest),
        more_total=total(rest),
        total=total(mine),
        minutes=sum(line.minutes for line in mine),
        requests=sum(counted) if counted else None,
        before=earlier,
        before_note=before_note,
        burn=burn,
        burn_note=burn_note,
        currency=usage.currency,
    )
