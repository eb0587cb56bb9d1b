"""Pure Block Kit for an idle warm replicas notice (issue 25; CONTRACT.md "Cost").

The change's detail (bot.idle.job) carries what the bot read: `replicas` up, `requests` in the window
of `minutes`, the `instance_type`, its `per_minute` price and the `per_day` cost as decimal strings
(money never passes through a float), and `min_replica`; a price it could not read is None with
`price_note` saying why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.domain.changes import Change
from bot.domain.cost import CURRENCY, money
from bot.render.cards import Block, Message, card_actions, context_block, duration, section_block
from bot.render.dates import stamp
from bot.render.text import NAME, line, mrkdwn, plain


def notice(change: Change, *, model_name: str, actions: Sequence[Block] = ()) -> Message:
    """`llama / v3: idle for 2h, 2 replicas up, 0 requests; about $96.00 a day`, with Scale to zero
    (`actions`) for operators when its minimum keeps replicas up."""
    d = change.detail
    model_raw, dep_raw = model_name or change.model_id, change.deployment_name or change.deployment_id
    replicas, requests = _int(d.get("replicas")), _int(d.get("requests"))
    idle_for = duration(change.at - change.old_since) if change.old_since else "a while"
    per_day = _decimal(d.get("per_day"))
    cost = f"about {money(per_day)} a day" if per_day is not None else "cost not known"
    up = f"{replicas} replica{'' if replicas == 1 else 's'} up"
    asked = f"{requests} request{'' if requests == 1 else 's'}"
    text = f"{line(model_raw, NAME)} / {line(dep_raw, NAME)}: idle for {idle_for}, {up}, {asked}; {cost}"
    blocks: list[Block] = [
        section_block(
            f":zzz: *Idle*: *{mrkdwn(model_raw, NAME)}* / *{mrkdwn(dep_raw, NAME)}* has had {up} and "
            f"{asked} in the last {idle_for}: {cost}."
        ),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in _fields(d)]},
    ]
    notes = [f"{CURRENCY}, rounded half up to the cent; replicas × the instance type's price a minute × 1,440"]
    if d.get("price_note"):
        notes.append(mrkdwn(str(d["price_note"]), 200))
    if not actions and _int(d.get("min_replica")) > 0:
        notes.append("its minimum keeps replicas up: an operator can scale it to zero")
    blocks.append(context_block(f"Seen {stamp(change.at)} · " + " · ".join(notes)))
    blocks.append(card_actions(change.model_id, change.deployment_id, shareable=False, extra=actions))
    return Message(text=plain(text, 1000), blocks=blocks)


def _fields(d: Mapping[str, Any]) -> list[tuple[str, str]]:
    get = d.get
    out = [("Replicas up", str(_int(get("replicas")))), ("Requests", str(_int(get("requests"))))]
    if get("instance_type"):
        out.append(("Instance type", mrkdwn(str(get("instance_type")), 80)))
    price = _decimal(get("per_minute"))
    if price is not None:
        out.append(("Price a minute", f"{exact(price)} a replica"))
    minimum = get("min_replica")
    if minimum is not None:
        out.append(("Min replicas", str(_int(minimum))))
    return out


def exact(price: Decimal) -> str:
    """A price as Baseten gives it, unrounded ($0.0125, $1.50): a minute of a GPU often costs less
    than a cent, and rounding that to the cent would misstate it."""
    exponent = price.normalize().as_tuple().exponent
    digits = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"${price:,.{digits}f}"


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _decimal(value: object) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None
