"""Pure Block Kit for the promotion guard (issue 24): its part of a promotion's live message, and the
message that tells a channel a rollout (or a new current deployment) is failing.

Every name from Baseten goes through bot.render.text's rule for where it lands; the verdict's
reasons are the guard's own sentences around numbers (bot.domain.guard), escaped whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain.changes import Change
from bot.domain.guard import AFTER, Check, GuardSpec, Verdict, Window, describe, percent, seconds, verdict
from bot.render.cards import Block, Message, context_block, section_block
from bot.render.dates import stamp
from bot.render.text import NAME, escape, line, mrkdwn, plain

LOOK = {"healthy": ":white_check_mark:", "watch": ":eyes:", "failing": ":rotating_light:"}
PAUSED = "paused"  # a GUARD change's `paused` detail when Baseten accepted the guard's pause


def window_line(w: Window | None) -> str:
    """`1,234 requests · 5xx 0.5% · p95 850 ms`; what is missing reads `n/a`."""
    if w is None:
        return "not read yet"
    requests = (
        "n/a"
        if w.requests is None
        else f"{int(w.requests):,}"
        if w.requests == int(w.requests)
        else f"{w.requests:,.1f}"
    )
    return f"{requests} requests · 5xx {percent(w.error_percent)} · p95 {seconds(w.p95_seconds)}"


def judged(check: Check, spec: GuardSpec) -> Verdict | None:
    """The verdict on what was last read; None before the first reading."""
    if check.candidate is None or check.current is None:
        return None
    return verdict(spec, check.candidate, check.current, baseline=baseline_word(check))


def baseline_word(check: Check) -> str:
    """What the reasons call the deployment the candidate is compared with."""
    return "replaced" if check.phase == AFTER else "current"


def verdict_line(v: Verdict | None) -> str:
    if v is None:
        return ":hourglass: waiting for the first reading"
    reasons = "; ".join(v.reasons)
    return f"{LOOK[v.level]} *{v.level}*" + (f": {escape(reasons)}" if reasons else "")


def live_blocks(check: Check, spec: GuardSpec) -> list[Block]:
    """The guard's part of a promotion's live message: its spec, the verdict, both deployments' windows."""
    head = f"*Promotion guard* `{escape(describe(spec))}`: {verdict_line(judged(check, spec))}"
    fields = [
        ("Candidate", check.candidate_name or check.candidate_id, check.candidate),
        ("Current", check.baseline_name or check.baseline_id, check.current),
    ]
    blocks: list[Block] = [
        section_block(head),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{k}* `{mrkdwn(name, 60)}`\n{escape(window_line(w))}"}
                for k, name, w in fields
            ],
        },
    ]
    if check.checked_at is not None:
        blocks.append(context_block(f"Guard read both deployments' metrics {stamp(check.checked_at)}"))
    return blocks


def _window(raw: Any) -> Window | None:
    if not isinstance(raw, Mapping):
        return None

    def number(name: str) -> float | None:
        value = raw.get(name)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    return Window(number("requests"), number("errors_5xx"), number("p95_seconds"))


def notice(change: Change, *, model_name: str, actions: Sequence[Block] = ()) -> Message:
    """The channel's message when the guard's verdict becomes failing: the metric, both values and the
    threshold; whether the guard paused the promotion; the controls that fit (`actions`)."""
    detail = change.detail
    after = detail.get("phase") == AFTER
    env_raw = str(detail.get("environment") or "?")
    model_raw = model_name or change.model_id
    candidate_raw = change.deployment_name or change.deployment_id
    baseline_raw = str(detail.get("baseline_name") or detail.get("baseline_id") or "?")
    reasons = [str(r) for r in detail.get("reasons") or ()]
    model, candidate, env = mrkdwn(model_raw, NAME), mrkdwn(candidate_raw, NAME), mrkdwn(env_raw, 60)
    if after:
        head = f"*{candidate}*, now current in *{env}* of *{model}*, is failing since it was promoted"
        text = f"Promotion guard: {line(model_raw, NAME)} / {line(candidate_raw, NAME)} in {line(env_raw, 60)}"
        text += " is failing since it was promoted: "
    else:
        head = f"the promotion of *{candidate}* → *{env}* of *{model}* is failing"
        text = f"Promotion guard: {line(model_raw, NAME)} / {line(candidate_raw, NAME)} → {line(env_raw, 60)}"
        text += " is failing: "
    text += "; ".join(reasons)
    paused = detail.get("paused")
    blocks: list[Block] = [
        section_block(f":rotating_light: *Promotion guard*: {head}"),
        section_block("\n".join(f"• {escape(r)}" for r in reasons) or "•"),
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{k}* `{mrkdwn(name, 60)}`\n{escape(window_line(_window(raw)))}"}
                for k, name, raw in (
                    ("Since promoted" if after else "Candidate", candidate_raw, detail.get("candidate")),
                    ("Before, replaced" if after else "Current", baseline_raw, detail.get("current")),
                )
            ],
        },
    ]
    if paused == PAUSED:
        blocks.append(
            section_block(
                ":double_vertical_bar: The promotion guard paused the promotion: traffic stays "
                "where it is until someone resumes or cancels it."
            )
        )
        text += "; the promotion guard paused the promotion"
    elif paused:
        blocks.append(section_block(f":x: The promotion guard did not pause the promotion: {escape(str(paused))}"))
        text += f"; the promotion guard did not pause it: {line(str(paused), 300)}"
    spec = mrkdwn(str(detail.get("spec") or ""), 100)
    blocks.append(
        context_block(
            f"Guard `{spec}` · "
            + (
                "compared with the deployment it replaced, before the promotion"
                if after
                else "candidate and current over the same window"
            )
        )
    )
    if actions:
        blocks.append({"type": "actions", "elements": list(actions)})
    return Message(text=plain(text, 1000), blocks=blocks)
