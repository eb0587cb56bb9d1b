"""The one sanitizer (bot.render.text) and the one date formatter (bot.render.dates): for any input,
each context's invariants hold."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.baseten.models import Environment, Model
from bot.domain.promotions import EnvState
from bot.polling.promotions import diff_environment
from bot.render import dates, promotions, text

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
