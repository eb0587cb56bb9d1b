"""A cost report (bot.domain.spend) for Slack (Block Kit and its plain text) and for a terminal. Pure.

Every amount is rounded here and only here, once, to the cent and halves up (bot.domain.cost.money);
the currency and the rounding are stated once, at the foot. Names come from Baseten: each goes through
bot.render.text's rule for where it lands.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from bot.domain.cost import change, money
from bot.domain.spend import Report, Row
from bot.render.cards import Block, Message, context_block, pack, section_block
from bot.render.text import mrkdwn, plain, printable

ROUNDING_NOTE = "rounded half up to the cent"
SOURCE = "From Baseten's billing usage summary (whole UTC days) and instance type prices."


def scope_words(report: Report, name: str) -> str:
    """`model NAME`, `chain NAME`, `training project NAME` or `the whole workspace`; `name` already cleaned."""
    scope = report.scope
    if scope.subject is None:
        return "the whole workspace"
    return f"{scope.subject.noun} {name}"


def window(report: Report) -> str:
    days = "today" if report.days == 1 else f"the last {report.days} days"
    return f"{days} ({report.start.isoformat()} to {report.end.isoformat()}, UTC)"


def percent(fraction: Decimal) -> str:
    """`+25%`, `-3.5%`: one decimal below 10%, whole percents above."""
    value = fraction * 100
    places = Decimal("0.1") if abs(value) < 10 else Decimal(1)
    return f"{value.quantize(places, rounding=ROUND_HALF_UP):+}%"


def compared(report: Report) -> str:
    """The change against the window before, in words."""
    if report.before is None:
        return f"No comparison: {report.before_note or 'the window before could not be read'}."
    span = "the day before" if report.days == 1 else f"the {report.days} days before"
    if report.before == 0:
        return f"No spend before: nothing in {span}."
    moved = change(report.total, report.before)
    assert moved is not None  # before is not 0
    return f"{percent(moved)} against {span} ({money(report.before)})."


def burning(report: Report) -> str:
    """The burn rate now, in words."""
    burn = report.burn
    if burn is None:
        return f"Burn rate now: not measured ({report.burn_note or 'unknown'})."
    up = "1 replica up" if burn.replicas == 1 else f"{burn.replicas:,} replicas up"
    text = f"Burn rate now: {money(burn.rate.per_hour)} an hour, {money(burn.rate.per_day)} a day ({up})."
    if burn.unpriced:
        kinds = ", ".join(burn.unpriced[:3]) + (f" and {len(burn.unpriced) - 3} more" if len(burn.unpriced) > 3 else "")
        text += f" Not counted: replicas on {kinds}, which Baseten lists no price for."
    if burn.unread:
        text += f" Not counted: {burn.unread}."
    return text


def _requests(row: Row) -> str:
    if row.requests is None:
        return ""
    each = "" if row.per_thousand is None else f" ({money(row.per_thousand)} per 1,000)"
    noun = "request" if row.requests == 1 else "requests"
    return f" · {row.requests:,} {noun}{each}"


def _line(rank: int, row: Row) -> str:
    parent = f" of {mrkdwn(row.parent, 40)}" if row.parent else ""
    gone = " (deleted)" if row.deleted else ""
    return (
        f"{rank}. *{mrkdwn(row.name, 60)}*{parent} `{mrkdwn(row.id, 40)}`{gone}: *{money(row.subtotal)}* · "
        f"{row.minutes:,} min{_requests(row)}"
    )


def _more(report: Report) -> str:
    noun = "deployment" if report.more == 1 else "deployments"
    return f"… and {report.more:,} more {noun} ({money(report.more_total)})"


def cost_message(report: Report) -> Message:
    """The report as a Slack message: the total, the change and the burn rate, then the top spenders."""
    name = mrkdwn(report.scope.name or report.scope.own_id, 60)
    head = f":moneybag: *Cost of {scope_words(report, name)}*, {window(report)}: *{money(report.total)}*"
    blocks: list[Block] = [section_block(f"{head}\n{mrkdwn(compared(report), 400)}\n{mrkdwn(burning(report), 600)}")]
    lines = [_line(i, row) for i, row in enumerate(report.rows, start=1)]
    if report.more:
        lines.append(_more(report))
    if lines:
        blocks += pack(lines, room=5)[0]
    else:
        blocks.append(section_block("No spend in this window."))
    blocks.append(context_block(f"Amounts in {report.currency}, {ROUNDING_NOTE}. {SOURCE}"))
    return Message(text=summary(report), blocks=blocks)


def summary(report: Report) -> str:
    """The message's plain text: one line, within a notification's length."""
    name = plain(report.scope.name or report.scope.own_id, 80)
    moved = change(report.total, report.before) if report.before is not None else None
    after = f" ({percent(moved)})" if moved is not None else ""
    rate = f"; burning {money(report.burn.rate.per_day)} a day" if report.burn is not None else ""
    return (
        f"Cost of {scope_words(report, name)}, last {report.days} days: {money(report.total)} "
        f"{report.currency}{after}{rate}"
    )


def terminal_cost(report: Report) -> str:
    """The report for `baseten-bot cost`: the same figures as plain lines."""
    name = printable(report.scope.name or report.scope.own_id)[:80]
    out = [
        f"Cost of {scope_words(report, name)}, {window(report)}: {money(report.total)}",
        printable(compared(report)),
        printable(burning(report)),
    ]
    if report.rows:
        out.append("")
    for i, row in enumerate(report.rows, start=1):
        parent = f" of {printable(row.parent)[:40]}" if row.parent else ""
        gone = " (deleted)" if row.deleted else ""
        out.append(
            f"{i:>3}. {printable(row.name)[:60]}{parent} ({printable(row.id)[:40]}){gone}: "
            f"{money(row.subtotal)} · {row.minutes:,} min{_requests(row)}"
        )
    if report.more:
        out.append(f"     {_more(report)}")
    if not report.rows:
        out.append("No spend in this window.")
    out += ["", f"Amounts in {report.currency}, {ROUNDING_NOTE}. {SOURCE}"]
    return "\n".join(out)
