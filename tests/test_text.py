"""The one sanitizer (bot.render.text) and the one date formatter (bot.render.dates): for any input,
each context's invariants hold."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.actions import buttons
from bot.actions.answers import outcome
from bot.actions.checks import Shown
from bot.actions.verbs import VERBS, Target
from bot.baseten.models import Deployment, Environment, LogLine, Model
from bot.commands import wording
from bot.commands.lookup import LookupFailed, check_plain_id
from bot.commands.typed import ENV, Subscribe
from bot.commands.wording import describe_target
from bot.domain.changes import FLAPPING, GONE, NEW, PROMOTED, PROMOTION, SETTLED, STATUS, STUCK, Change
from bot.domain.cost import Prices, Usage, UsageLine
from bot.domain.promotions import ENDED, REPLACED, EnvState
from bot.domain.spend import Running, Scope, burn_now, report
from bot.domain.subjects import Kind
from bot.polling.promotions import diff_environment
from bot.render import cards, dates, excerpt, notices, promotions, text
from bot.render.cards import Message
from bot.render.cost import cost_message
from bot.store.mutes import MuteView
from bot.store.subscriptions import SubscriptionView
from tests.fakes import deployment
from tests.fakes import model as fake_model
from tests.test_render import within_limits

NASTY = [
    "`",
    "```",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u200b",
    "\x1b[31m",
    "\x1b[0m",
    "\x1b]8;;https://evil.example\x07",
    "\x00",
    "\x07",
    "\r\n",
    "\t",
    "\u2028",
    "<!channel>",
    "<!here>",
    "<@U123>",
    "@here",
    "@Channel",
    "@everyone",
    "&lt;",
    "&amp;",
    "&",
    "<",
    ">",
    "\ud800",  # a lone surrogate: UTF-8 cannot carry it to Slack
    "\ue000",  # private use
    "x" * 700,
]
# Baseten-shaped hostile text: arbitrary unicode, the nasty pieces, and both mixed
hostile = st.one_of(
    st.text(max_size=300),
    st.sampled_from(NASTY),
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=20)), max_size=12).map("".join),
)
limits = st.integers(min_value=1, max_value=600)
# ids reach the bot checked (bot.baseten.client refuses any that is not a plain id), but are shown as hostile;
# never a lone surrogate, which no JSON Baseten sends can hold (a dashboard link could not encode one)
ids = st.one_of(st.text(max_size=80), st.sampled_from([n for n in NASTY if n != "\ud800"]))
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

MASS = re.compile(r"@(here|channel|everyone)", re.IGNORECASE)
ENTITY = re.compile(r"&(amp|lt|gt);")


def visible(shown: str, *, newlines: bool = False) -> None:
    """No control, format, surrogate, private or unassigned character but the bot's own @-break
    (and a line break where the context keeps them)."""
    for ch in shown.replace("@" + text.BREAK, "@"):
        if newlines and ch == "\n":
            continue
        assert not unicodedata.category(ch).startswith("C"), (ch, shown)


def inert(shown: str) -> None:
    """Nothing Slack would parse: no `<` or `>`, every `&` an entity, no mass mention."""
    assert "<" not in shown and ">" not in shown, shown
    assert "&" not in ENTITY.sub("", shown), shown
    assert not MASS.search(shown), shown


@settings(max_examples=300, deadline=None)
@given(raw=hostile, limit=limits)
def test_plain_text_is_one_inert_printable_line_within_its_limit(raw: str, limit: int) -> None:
    shown = text.plain(raw, limit)
    visible(shown)
    inert(shown)
    assert "\n" not in shown and len(shown) <= limit


@settings(max_examples=300, deadline=None)
@given(raw=hostile, limit=limits)
def test_mrkdwn_is_that_and_has_no_backtick(raw: str, limit: int) -> None:
    shown = text.mrkdwn(raw, limit)
    visible(shown)
    inert(shown)
    assert "`" not in shown and "\n" not in shown and len(shown) <= limit


@settings(max_examples=300, deadline=None)
@given(raw=hostile, limit=limits, newlines=st.booleans())
def test_code_cannot_close_its_block_and_keeps_only_line_breaks(raw: str, limit: int, newlines: bool) -> None:
    shown = text.code(raw, limit, newlines=newlines)
    visible(shown, newlines=newlines)
    inert(shown)
    assert "`" not in shown and len(shown) <= limit
    assert newlines or "\n" not in shown
    assert f"```{shown}```".count("`") == 6  # whatever it ends or starts with, the block closes where the bot put it


@settings(max_examples=300, deadline=None)
@given(raw=hostile, limit=limits)
def test_what_is_kept_and_inlined_is_printable_and_within_its_limit(raw: str, limit: int) -> None:
    for kept in (text.line(raw, limit), text.inline(raw, limit)):
        visible(kept)
        assert "\n" not in kept and len(kept) <= limit
    assert "`" not in text.inline(raw, limit)
    multi = text.line(raw, limit, newlines=True)
    visible(multi, newlines=True)
    assert len(multi) <= limit


@settings(max_examples=300, deadline=None)
@given(raw=hostile, limit=limits)
def test_the_contexts_agree_on_what_is_kept(raw: str, limit: int) -> None:
    """One rule: escaping what is kept gives the plain text (when nothing is cut)."""
    kept = text.line(raw, 10_000)
    if len(raw) <= limit * 8 and len(text.escape(kept)) <= limit:  # longer input is read only so far
        assert text.plain(raw, limit) == text.escape(kept)
        assert text.mrkdwn(raw, limit) == text.escape(kept).replace("`", text.TICK)


@settings(max_examples=200, deadline=None)
@given(raw=hostile)
def test_escaping_a_sentence_made_of_kept_values_keeps_it_inert(raw: str) -> None:
    shown = text.escape(f"Baseten did not retry it: {text.line(raw, 200)}")
    visible(shown)
    inert(shown)


@settings(max_examples=200, deadline=None)
@given(raw=hostile)
def test_the_terminal_gets_the_stripping_alone(raw: str) -> None:
    shown = text.printable(raw)
    visible(shown)
    assert "\n" not in shown and "\x1b" not in shown


def test_the_rules_by_example() -> None:
    sample = "\u202e<!channel> @here \x1b[31mred\x1b[0m &lt; `tick`\x00\n\tnext"
    assert text.plain(sample) == "&lt;!channel&gt; @\u200bhere red &amp;lt; `tick` next"
    assert text.mrkdwn(sample) == "&lt;!channel&gt; @\u200bhere red &amp;lt; ˋtickˋ next"
    assert text.code("Traceback:\n  File `x`\r\n\n", 500) == "Traceback:\n  File ˋxˋ"
    assert text.line(sample) == "<!channel> @here red &lt; `tick` next"
    assert text.inline("a`b\u202e") == "aˋb"
    assert text.escape("<@U1> & `code`") == "&lt;@U1&gt; &amp; `code`"  # the bot's own backticks stay


def test_the_cut_counts_what_is_sent_and_never_splits_an_entity() -> None:
    assert text.plain("x" * 100, 80) == "x" * 79 + "…"
    assert text.plain("x" * 80, 80) == "x" * 80
    shown = text.plain("<" * 100, 80)
    assert shown == "&lt;" * 19 + "…" and len(shown) <= 80
    assert text.mrkdwn("&" * 3, 10) == "&amp;…"
    assert text.plain("\x00" * 10_000 + "tail", 10) == "…"  # a huge input is read only so far, and says so


def test_one_date_formatter() -> None:
    at = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    long = "<!date^1795780800^{date_short_pretty} {time}|2026-11-27 12:00 UTC>"
    assert dates.stamp(at) == long
    assert dates.stamp(1795780800) == long
    assert dates.stamp(at.replace(tzinfo=None)) == long  # the bot keeps naive datetimes in UTC
    assert dates.stamp(at.astimezone(timezone(timedelta(hours=-5)))) == long  # the fallback says UTC: it is
    assert dates.stamp(at, time_only=True) == "<!date^1795780800^{time}|12:00 UTC>"


# -- at every place it is used --------------------------------------------------------------------


def code_blocks(message: Any) -> list[str]:
    """What each ``` block in a message's blocks holds, between the fences the bot wrote."""
    found = []
    for node in mrkdwn_texts(message.blocks):
        parts = node.split("```")
        assert len(parts) % 2 == 1, node  # every block the bot opens, it closes
        assert "````" not in node, node  # nor does a backtick from Baseten close one a character early
        found += parts[1::2]
    return found


def mrkdwn_texts(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            out.append(node["text"])
        for value in node.values():
            out += mrkdwn_texts(value)
    elif isinstance(node, list):
        for value in node:
            out += mrkdwn_texts(value)
    return out


def test_a_promotions_error_message_cannot_reorder_text_or_close_its_code_block() -> None:
    """The bug in issue 20: Baseten's error_message kept its bidi override, and a trailing backtick
    made four in a row at the end of the block."""
    error = "readiness probe \u202edeliaf <!channel>`"
    before = EnvState(
        model_id="m1", name="staging", current_id=None, candidate_id="d2", candidate_name="v2", status="RAMPING_UP"
    )
    env = Environment.model_validate(
        {
            "name": "staging",
            "candidate_deployment": {"id": "d2", "name": "v2", "status": "ACTIVE"},
            "in_progress_promotion": {"status": "FAILED", "percent_traffic_to_new_version": 10, "error_message": error},
        }
    )
    _, (change,) = diff_environment(before, env, model_id="m1", now=NOW)
    for message in (
        promotions.live_message(change, model_name="llama", started_by=None),
        promotions.step_reply(change, model_name="llama"),
        promotions.environment_card(Model.model_validate({"id": "m1", "name": "llama"}), env, now=NOW),
    ):
        (shown,) = code_blocks(message)
        assert "`" not in shown and "\u202e" not in shown, shown
        assert shown == "readiness probe deliaf &lt;!channel&gt;ˋ"


@dataclass(frozen=True)
class Baseten:
    """Everything Baseten names that the bot shows, hostile."""

    model_name: str
    dep_name: str
    status: str
    old_status: str
    env: str
    instance: str
    actor: str
    current_name: str
    replaced_by: str
    error_message: str
    reason: str
    logs: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    model_id: str
    dep_id: str


values = st.builds(
    Baseten,
    **{f.name: hostile for f in fields(Baseten) if f.name not in ("logs", "labels", "model_id", "dep_id")},
    logs=st.lists(hostile, max_size=6).map(tuple),
    labels=st.lists(st.tuples(hostile, hostile), max_size=7).map(tuple),
    model_id=ids,
    dep_id=ids,
)


def untick(v: Baseten) -> Baseten:
    """The same values with each backtick made an `x`: as long, so every cut falls in the same place."""

    def swap(value: str) -> str:
        return value.replace("`", "x")

    return Baseten(
        **{f.name: swap(getattr(v, f.name)) for f in fields(Baseten) if f.name not in ("logs", "labels")},
        logs=tuple(map(swap, v.logs)),
        labels=tuple((swap(k), swap(x)) for k, x in v.labels),
    )


def why(v: Baseten) -> Any:
    lines = [LogLine(timestamp=str(10**18 - i), message=m, level="ERROR") for i, m in enumerate(v.logs)]
    return json.loads(json.dumps(excerpt.found(lines, dict(v.labels), since=NOW)))  # as the database gives it back


def every_message(v: Baseten) -> list[Message]:
    """Every builder that shows Baseten's text, fed `v`."""
    return [*cards_and_notices(v), *promotion_messages(v), *acting_messages(v), *listings(v), *cost_reports(v)]


def cost_reports(v: Baseten) -> list[Message]:
    """A cost report naming Baseten's deployments, models, chains and instance types (issue 25)."""
    lines = [
        UsageLine(v.dep_id, "MODEL_DEPLOYMENT", v.dep_name, v.model_name, Decimal(i), 60, i, is_deleted=i == 1)
        for i in range(12)
    ]
    lines.append(UsageLine(v.dep_id, "CHAINLET", v.dep_name, None, Decimal(3), 1, 0, chain_name=v.current_name))
    usage = Usage(NOW.date(), NOW.date(), tuple(lines))
    burn = burn_now([Running(v.dep_name, 2, v.instance)], Prices({}), unread=v.reason[:40])
    scopes = [Scope(Kind.MODEL, v.model_id, v.model_name), Scope(Kind.CHAIN, v.model_id, v.current_name), Scope()]
    return [cost_message(report(scope, usage, usage, burn=burn)) for scope in scopes]


def cards_and_notices(v: Baseten) -> list[Message]:
    raw = deployment(v.dep_id, v.model_id, name=v.dep_name, status=v.status, environment=v.env, is_production=True)
    raw["instance_type_name"] = v.instance
    dep = Deployment.model_validate(raw)
    mdl = Model.model_validate(fake_model(v.model_id, v.model_name, [raw]))
    target = Target(v.model_id, v.dep_id, "production", v.model_name, v.dep_name)
    detail = {"environment": v.env, "actor": v.actor, "previous_deployment_name": v.current_name, excerpt.WHY: why(v)}
    out = [
        cards.deployment_card(
            dep,
            model_name=v.model_name,
            now=NOW,
            shareable=True,
            shared_by="U0ME",
            why=excerpt.blocks(why(v)),
            actions=buttons.ask_buttons("UNHEALTHY", target, production=True),
        ),
        cards.model_overview(mdl, [dep, dep], now=NOW, shareable=True),
    ]
    for kind in (STATUS, NEW, GONE, PROMOTED, STUCK, FLAPPING, SETTLED):
        change = Change(kind, v.model_id, v.dep_id, v.dep_name, v.old_status, v.status, NOW, NOW, detail)
        out.append(notices.notice(change, model_name=v.model_name, now=NOW))
        out.append(notices.thread_parent(first=change, latest=change, model_name=v.model_name, replies=2))
    return out


def promotion_messages(v: Baseten) -> list[Message]:
    detail = {
        "environment": v.env,
        "traffic": 40,
        "old_traffic": 60,
        "backwards": True,
        "final": True,
        "error_message": v.error_message,
        "current_deployment_name": v.current_name,
        "replaced_by": v.replaced_by,
    }
    out = []
    for status in ("FAILED", REPLACED, ENDED, v.status):
        change = Change(PROMOTION, v.model_id, v.dep_id, v.dep_name, v.old_status, status, NOW, NOW, detail)
        out.append(promotions.live_message(change, model_name=v.model_name, started_by=v.actor))
        out.append(promotions.step_reply(change, model_name=v.model_name))
    dep = {"id": v.dep_id, "name": v.dep_name, "status": v.status}
    env = Environment.model_validate(
        {
            "name": v.env,
            "current_deployment": {**dep, "instance_type_name": v.instance},
            "candidate_deployment": {**dep, "name": v.current_name},
            "in_progress_promotion": {"status": v.status, "error_message": v.error_message},
        }
    )
    mdl = Model.model_validate({"id": v.model_id, "name": v.model_name})
    out.append(promotions.environment_card(mdl, env, now=NOW))
    return out


def acting_messages(v: Baseten) -> list[Message]:
    target = Target(v.model_id, v.dep_id, v.env, v.model_name, v.dep_name)
    out = []
    answers = ((200, {"retried": False, "reason": v.reason}), (200, {"message": v.reason}), (403, {"error": v.reason}))
    for verb in VERBS.values():
        out.append(buttons.confirmation(verb, target, Shown("c0ffee", NOW, v.status, "production")))
        out.append(buttons.instead(f"{v.dep_name} is {v.status} now", None))
        for status_code, body in answers:
            answer = outcome(verb.read, status_code, body)  # Baseten's reason, message or error in the words
            out.append(buttons.outcome_card("U0ME", verb, target, answer))
            out.append(buttons.channel_line("U0ME", verb, target, answer))
    try:
        check_plain_id("deployment", v.dep_name, v.dep_id + "/", "it can't act on it.")
    except LookupFailed as exc:
        out.append(cards.error(str(exc)))  # as bot.slack answers a failed lookup
    return out


def listings(v: Baseten) -> list[Message]:
    view = SubscriptionView(
        id=1,
        model_id=v.model_id,
        model_name=v.model_name,
        target=v.dep_id,
        target_name=v.dep_name,
        kinds=frozenset(),
        thread=False,
        paused_reason="channel_not_found",
        muted_until=NOW + timedelta(hours=1),
        last_delivered_at=NOW,
        statuses=((v.dep_name, v.status), (v.current_name, v.old_status)),
    )
    mute = MuteView(v.model_id, v.dep_id, v.dep_name, NOW + timedelta(hours=1))
    dep = Deployment.model_validate(deployment(v.dep_id, v.model_id, name=v.dep_name, status=v.status))
    lines = [
        wording.list_line(view, NOW),
        wording.mute_line(v.model_name, mute),
        describe_target(ENV + v.env, ""),
        *wording.subscribed_lines(Subscribe(v.model_id, v.dep_id), "U0ME", "it", dep, [dep]),
        *wording.subscribed_lines(Subscribe(v.model_id), "U0ME", "it", None, [dep, dep]),
    ]
    return [cards.lines_message(lines, "Subscriptions of " + text.line(v.model_name))]


# the only markup the bot writes itself: localised dates and the mentions of people it means
OWN = re.compile(r"<!date\^\d+\^[^<>|]*\|[^<>]*>|<@U0ME>")


def texts_of(message: Message) -> list[tuple[str, str]]:
    """(kind, text) of every text a message sends: its `text`, and each text object in its blocks."""
    out = [("text", message.text)]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                out.append((node["type"], node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.blocks)
    return out


def keeps_the_invariants(message: Message) -> None:
    for kind, shown in texts_of(message):
        visible(shown, newlines=kind == "mrkdwn")  # only the bot's own sections have several lines
        inert(OWN.sub("", shown))
        assert len(shown) <= (3000 if kind == "mrkdwn" else 1000), (kind, len(shown))  # Baseten's values are cut
    for block in code_blocks(message):
        assert "`" not in block, block
    within_limits(message)


@settings(max_examples=60, deadline=None)
@given(v=values)
def test_every_place_keeps_the_invariants_whatever_baseten_sends(v: Baseten) -> None:
    for message in every_message(v):
        keeps_the_invariants(message)


@settings(max_examples=40, deadline=None)
@given(v=values)
def test_every_backtick_shown_in_mrkdwn_is_one_the_bot_wrote(v: Baseten) -> None:
    """Rendered again with each of Baseten's backticks made an `x`, every mrkdwn text holds as many
    backticks: none of them came from Baseten, so none can open or close a code span or block."""
    for message, plain_twin in zip(every_message(v), every_message(untick(v)), strict=True):
        shown = [t for kind, t in texts_of(message) if kind == "mrkdwn"]
        twin = [t for kind, t in texts_of(plain_twin) if kind == "mrkdwn"]
        assert [t.count("`") for t in shown] == [t.count("`") for t in twin], shown


def test_the_hostile_values_named_in_the_issue_at_every_place() -> None:
    nasty = "`\u202e\x1b[31m<!channel> @here &lt;`"
    v = Baseten(
        **{f.name: nasty for f in fields(Baseten) if f.name not in ("logs", "labels", "model_id", "dep_id")},
        logs=(nasty, nasty),
        labels=((nasty, nasty),),
        model_id="mdl1",
        dep_id="dep1",
    )
    messages = every_message(v)
    for message in messages:
        keeps_the_invariants(message)
        dumped = "\n".join(t for _, t in texts_of(message))  # a button's value is not shown: it comes back
        assert "\u202e" not in dumped and "\x1b" not in dumped and "<!channel>" not in dumped
        assert "@here" not in dumped and "&lt;`" not in dumped
    shown = [t for m in messages for kind, t in texts_of(m)]
    assert any("ˋ&lt;!channel&gt; @\u200bhere &amp;lt;ˋ" in t for t in shown)  # as mrkdwn shows it
    assert any("`&lt;!channel&gt; @\u200bhere &amp;lt;`" in m.text for m in messages)  # as plain text does
