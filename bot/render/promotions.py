"""Pure Block Kit for environments and promotions: a promotion's live message, its steps, the environment card.

The live message is posted when a promotion is first seen and edited in place as it
moves; each step is a reply in its thread. Every string from Baseten goes through bot.render.text's
rule for where it lands; a promotion's error_message is shown in a code block it cannot close.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.baseten.models import AutoscalingSettings, Environment, Model
from bot.domain.changes import Change
from bot.domain.freezes import FLAG
from bot.domain.promotions import ENDED, REPLACED
from bot.domain.status import emoji
from bot.domain.subjects import Kind, kind_of
from bot.render.cards import Block, Message, card_actions, context_block, deployment_card, section_block
from bot.render.dates import stamp
from bot.render.freezes import flag_line
from bot.render.text import NAME, code, escape, mrkdwn, plain, printable

MAX_ERROR = 500  # characters of Baseten's error_message shown, as sent

_LOOK = {  # status -> (emoji, what the message says it is)
    "RELEASING": (":rocket:", "Promotion releasing"),
    "RAMPING_UP": (":arrow_upper_right:", "Promotion ramping up"),
    "RAMPING_DOWN": (":arrow_lower_right:", "Promotion ramping down"),
    "PAUSED": (":double_vertical_bar:", "Promotion paused"),
    "SUCCEEDED": (":white_check_mark:", "Promotion succeeded"),
    "FAILED": (":rotating_light:", "Promotion failed"),
    "CANCELED": (":no_entry_sign:", "Promotion canceled"),
    ENDED: (":grey_question:", "Promotion ended without an end status"),
    REPLACED: (":twisted_rightwards_arrows:", "Promotion replaced"),
}


def look(status: str | None) -> tuple[str, str]:
    return _LOOK.get(status or "", (":grey_question:", "Promotion"))


def bar(percent: int | None) -> str:
    """`▰▰▰▱▱▱▱▱▱▱ 30%`; `?` when Baseten did not say."""
    if percent is None:
        return "?"
    filled = max(0, min(10, (percent + 5) // 10))  # halves round up: 25% shows three of ten
    return "▰" * filled + "▱" * (10 - filled) + f" {percent}%"


def _names(change: Change, model_name: str, rule: Callable[[str, int], str]) -> tuple[str, str, str]:
    """The model, the candidate and the environment, by one context's rule (bot.render.text)."""
    model = rule(model_name or change.model_id, NAME)
    candidate = rule(change.deployment_name or change.deployment_id or "?", NAME)
    env = rule(str(change.detail.get("environment") or "?"), 60)
    return model, candidate, env


def _traffic(detail: Any) -> str:
    traffic = detail.get("traffic")
    return "" if traffic is None else f" ({plain(str(traffic), 20)}% of traffic)"


def _headline(change: Change, model_name: str) -> str:
    """Plain text naming the model, the candidate, the environment, and the promotion's status."""
    model, candidate, env = _names(change, model_name, plain)
    return f"{model} / {candidate} → {env}: {plain(change.new_status, 40)}{_traffic(change.detail)}"


def baseten_says(error: Any) -> list[Block]:
    """Baseten's error_message in a code block it cannot close early; nothing when none is left to show."""
    shown = code(str(error), MAX_ERROR) if error else ""
    return [section_block(f"*Baseten says:*\n```{shown}```")] if shown else []


def _outcome(change: Change) -> str:
    """The sentence under an ended promotion, naming the deployment now current."""
    detail = change.detail
    current = detail.get("current_deployment_name") or detail.get("current_deployment_id")
    now_current = f" *{mrkdwn(str(current))}* is current." if current else ""
    if change.new_status == "SUCCEEDED" and detail.get("inferred"):
        return "Baseten no longer shows the promotion and the candidate is current." + now_current
    if change.new_status == ENDED:
        return "Baseten no longer shows the promotion and did not say how it ended." + now_current
    if change.new_status == REPLACED:
        return f"Another candidate, *{mrkdwn(str(detail.get('replaced_by') or '?'))}*, took its place."
    return now_current.strip()


def live_message(
    change: Change,
    *,
    model_name: str,
    started_by: str | None,
    actions: Sequence[Block] = (),
    guard: Sequence[Block] = (),
) -> Message:
    """The promotion's one message in a channel, showing its latest state; `actions`: its controls
    (bot.actions.buttons.promotion_buttons), shown while it runs and gone from the edit that ends it;
    `guard`: the promotion guard's verdict and readings (bot.render.guard.live_blocks)."""
    model, candidate, env = _names(change, model_name, mrkdwn)
    icon, what = look(change.new_status)
    head = f"{icon} *{what}*: *{candidate}* → *{env}* of *{model}*"
    detail = change.detail
    fields = [("Status", f"`{mrkdwn(change.new_status, 40)}`")]
    if kind_of(change.model_id) is not Kind.CHAIN:  # Baseten gives a chain's promotion no traffic share
        fields.append(("Traffic to the candidate", bar(detail.get("traffic"))))
    replacing = detail.get("current_deployment_name") or detail.get("current_deployment_id")
    if replacing and replacing != change.deployment_name and replacing != change.deployment_id:
        fields.append(("Current deployment", mrkdwn(str(replacing))))
    if started_by:
        fields.append(("Started by", mrkdwn(started_by)))
    blocks: list[Block] = [
        section_block(head),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields]},
    ]
    outcome = _outcome(change) if detail.get("final") else ""
    if outcome:
        blocks.append(section_block(outcome))
    blocks.extend(baseten_says(detail.get("error_message")))
    frozen = flag_line(detail.get(FLAG))  # started during a freeze (the message that starts it says so)
    if frozen:
        blocks.append(section_block(frozen))
    blocks.extend(guard)
    blocks.append(
        context_block(
            f"Updated {stamp(change.at)} · every step is in the thread · states between two polls may be missed"
        )
    )
    if change.deployment_id:
        blocks.append(card_actions(change.model_id, change.deployment_id, shareable=False, extra=actions))
    return Message(text=_headline(change, model_name), blocks=blocks)


def step_reply(change: Change, *, model_name: str) -> Message:
    """One step, as a reply in the live message's thread: old → new status and traffic."""
    model, candidate, env = _names(change, model_name, plain)
    icon, _ = look(change.new_status)
    detail = change.detail
    old, new = change.old_status or "-", change.new_status
    before, after = detail.get("old_traffic"), detail.get("traffic")
    moved = f" · traffic {'?' if before is None else before}% → {'?' if after is None else after}%"
    line = f"{icon} `{mrkdwn(old, 40)}` → `{mrkdwn(new, 40)}`" + ("" if before == after else escape(moved))
    if detail.get("backwards"):
        line += "\n:warning: The traffic share went *back*."
    blocks: list[Block] = [section_block(line)]
    outcome = _outcome(change) if detail.get("final") else ""
    if outcome:
        blocks.append(section_block(outcome))
    blocks.extend(baseten_says(detail.get("error_message")))
    text = f"{model} / {candidate} → {env}: {plain(old, 40)} → {plain(new, 40)}{_traffic(detail)}"
    return Message(text=text, blocks=blocks)


def _scaling(settings: AutoscalingSettings | None) -> str:
    if settings is None:
        return "-"
    parts = [f"min {_n(settings.min_replica)}, max {_n(settings.max_replica)}"]
    if settings.concurrency_target is not None:
        parts.append(f"concurrency {settings.concurrency_target}")
    if settings.scale_down_delay is not None:
        parts.append(f"scale-down delay {settings.scale_down_delay}s")
    return ", ".join(parts)


def _n(value: int | None) -> str:
    return "?" if value is None else str(value)


def environment_card(model: Model, env: Environment, *, now: datetime) -> Message:
    """`status MODEL env:NAME`: the environment, its promotion in progress, and its current deployment's card."""
    current, candidate, promo = env.current_deployment, env.candidate_deployment, env.in_progress_promotion
    head = f":package: *{mrkdwn(model.display_name)}* / environment *{mrkdwn(env.name, 60)}*"
    fields = [
        ("Current deployment", _dep(current)),
        ("Candidate", _dep(candidate) if candidate else "none"),
        ("Promotion", f"`{mrkdwn(promo.status, 40)}`" if promo else "none in progress"),
        ("Traffic to the candidate", bar(promo.percent_traffic_to_new_version) if promo else "-"),
        ("Autoscaling", escape(_scaling(env.autoscaling_settings))),
    ]
    if kind_of(model.id) is Kind.CHAIN:  # no traffic share, and autoscaling is per chainlet
        fields = fields[:3]
    rolling = env.promotion_settings.rolling_deploy if env.promotion_settings else None
    if rolling is not None:
        fields.append(("Rolling deploys", "yes" if rolling else "no"))
    blocks: list[Block] = [
        section_block(head),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields]},
    ]
    if promo:
        blocks.extend(baseten_says(promo.error_message))
    text = f"{plain(model.display_name)} / {plain(env.name, 60)}: " + (
        f"{plain(current.display_name)} {plain(current.status, 40)}" if current else "no current deployment"
    )
    if promo:
        text += f"; promoting {plain(candidate.display_name) if candidate else '?'}: {plain(promo.status, 40)}"
        text += _traffic({"traffic": promo.percent_traffic_to_new_version})
    if current is not None:
        blocks.extend(deployment_card(current, model_name=model.display_name, now=now).blocks)
    return Message(text=text, blocks=blocks)


def _dep(dep: Any) -> str:
    if dep is None:
        return "none"
    return f"{emoji(dep.status)} *{mrkdwn(dep.display_name, 60)}* `{mrkdwn(dep.status, 40)}`"


def terminal_environment(model: Model, env: Environment) -> str:
    """The environment as plain text for `baseten-bot status MODEL env:NAME`."""
    promo, current, candidate = env.in_progress_promotion, env.current_deployment, env.candidate_deployment
    rows = [
        ("Model", f"{model.display_name} ({model.id})"),
        ("Environment", env.name),
        ("Current deployment", f"{current.display_name} ({current.id}) {current.status}" if current else "none"),
        ("Candidate", f"{candidate.display_name} ({candidate.id})" if candidate else "none"),
        ("Promotion", promo.status if promo else "none in progress"),
        ("Traffic", bar(promo.percent_traffic_to_new_version) if promo else "-"),
        ("Autoscaling", _scaling(env.autoscaling_settings)),
    ]
    if kind_of(model.id) is Kind.CHAIN:  # no traffic share, and autoscaling is per chainlet
        rows = rows[:5]
    return "\n".join(f"{k + ':':<20}{printable(v)}" for k, v in rows)
