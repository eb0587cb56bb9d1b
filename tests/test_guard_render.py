"""The promotion guard's Block Kit (bot.render.guard): a window as one line, the guard's part of a
promotion's live message, and the failing notice; hostile names inert and every block within
Slack's sizes. Pure."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.changes import GUARD, Change
from bot.domain.guard import AFTER, DEFAULT, ROLLOUT, Check, GuardSpec, Window
from bot.render.cards import MAX_BLOCKS, Block, Message
from bot.render.dates import stamp
from bot.render.guard import live_blocks, notice, window_line
from bot.render.text import TICK
from tests.test_render_properties import INJECTIONS, assert_inert

NOW = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)
HEALTHY = Window(requests=1000.0, errors_5xx=5.0, p95_seconds=0.4)
FAILING = Window(requests=1000.0, errors_5xx=80.0, p95_seconds=0.5)
HOSTILE = "<!channel> *bold* & `tick` " + "x" * 500
REASON = "5xx rate 8% is above 2%; current 0.5%"


def check(**kw: Any) -> Check:
    base = Check("m1", "staging", "staging/cand1/20261205T101500", ROLLOUT, "cand1", "v2", "cur1", "v1", started_at=NOW)
    return replace(base, **kw)


def change(phase: str = ROLLOUT, **detail: Any) -> Change:
    values: dict[str, Any] = {
        "environment": "staging",
        "phase": phase,
        "spec": "5xx:2%,p95:2x,min:50",
        "reasons": [REASON],
        "candidate": {"requests": 1000.0, "errors_5xx": 80.0, "p95_seconds": 0.5},
        "current": {"requests": 1000.0, "errors_5xx": 5.0, "p95_seconds": 0.4},
        "baseline_id": "cur1",
        "baseline_name": "v1",
    }
    values.update(detail)
    return Change(GUARD, "m1", "cand1", "v2", None, "FAILING", NOW, None, values)


def assert_block_kit(blocks: list[Block]) -> None:
    """Within Slack's limits: section text 3000, fields 10 of 2000 each, context 10 elements."""
    assert 0 < len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "section":
            assert "text" in block or "fields" in block, block
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= 3000
            fields = block.get("fields", [])
            assert len(fields) <= 10 and all(0 < len(f["text"]) <= 2000 for f in fields), fields
        elif block["type"] == "context":
            elements = block["elements"]
            assert 0 < len(elements) <= 10 and all(0 < len(e["text"]) <= 3000 for e in elements)
        else:
            assert block["type"] == "actions" and 0 < len(block["elements"]) <= 25


# -- window_line -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "line"),
    [
        (Window(1200.0, 6.0, 0.85), "1,200 requests · 5xx 0.5% · p95 850 ms"),
        (Window(12.5, 0.0, 1.25), "12.5 requests · 5xx 0% · p95 1.25 s"),
        (Window(0.0, 0.0, None), "0 requests · 5xx n/a · p95 n/a"),  # no requests: no rate
        (Window(note="Baseten did not answer"), "n/a requests · 5xx n/a · p95 n/a"),
        (Window(100.0, None, 2.0), "100 requests · 5xx n/a · p95 2 s"),
        (None, "not read yet"),
    ],
)
def test_a_window_as_one_line(window: Window | None, line: str) -> None:
    assert window_line(window) == line


# -- live_blocks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "spec", "head"),
    [
        (HEALTHY, DEFAULT, ":white_check_mark: *healthy*"),
        (Window(10.0, 0.0, 0.4), DEFAULT, ":eyes: *watch*: too little traffic (10 of min 50 requests)"),
        (FAILING, DEFAULT, f":rotating_light: *failing*: {REASON}"),
        (FAILING, GuardSpec(max_5xx_percent=10.0), ":white_check_mark: *healthy*"),
        (None, DEFAULT, ":hourglass: waiting for the first reading"),
    ],
)
def test_the_live_section_shows_the_spec_and_the_verdict(candidate: Window | None, spec: GuardSpec, head: str) -> None:
    blocks = live_blocks(check(candidate=candidate, current=HEALTHY), spec)
    described = "5xx:10%,p95:2x,min:50" if spec.max_5xx_percent == 10 else "5xx:2%,p95:2x,min:50"
    assert blocks[0] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"*Promotion guard* `{described}`: {head}"},
    }
    assert len(blocks) == 2  # not read yet: no time of reading
    assert_block_kit(blocks)


def test_the_live_section_shows_both_deployments_windows_and_when_they_were_read() -> None:
    blocks = live_blocks(check(candidate=FAILING, current=HEALTHY, checked_at=NOW), GuardSpec(auto_pause=True))
    assert "`5xx:2%,p95:2x,min:50,auto-pause`" in blocks[0]["text"]["text"]
    assert blocks[1]["fields"] == [
        {"type": "mrkdwn", "text": "*Candidate* `v2`\n1,000 requests · 5xx 8% · p95 500 ms"},
        {"type": "mrkdwn", "text": "*Current* `v1`\n1,000 requests · 5xx 0.5% · p95 400 ms"},
    ]
    assert blocks[2] == {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"Guard read both deployments' metrics {stamp(NOW)}"}],
    }
    assert_block_kit(blocks)


def test_the_live_section_before_a_reading_names_each_deployment_by_id_without_a_name() -> None:
    blocks = live_blocks(check(candidate_name="", baseline_name=""), DEFAULT)
    assert [f["text"] for f in blocks[1]["fields"]] == [
        "*Candidate* `cand1`\nnot read yet",
        "*Current* `cur1`\nnot read yet",
    ]
    assert blocks[0]["text"]["text"].endswith(":hourglass: waiting for the first reading")


def test_the_live_section_keeps_hostile_names_and_notes_inert() -> None:
    unread = Window(note="<!channel> & more")
    blocks = live_blocks(
        check(candidate_name=HOSTILE, baseline_name=HOSTILE, candidate=unread, current=HEALTHY), DEFAULT
    )
    head = blocks[0]["text"]["text"]
    assert head.endswith("*watch*: metrics unavailable: the candidate's requests (&lt;!channel&gt; &amp; more)")
    for field in blocks[1]["fields"]:
        name = re.fullmatch(r"\*\w+\* `([^`]*)`\n.*", field["text"])
        assert name is not None, field["text"]  # one code span: the name's backtick closes nothing
        assert name.group(1).startswith(f"&lt;!channel&gt; *bold* &amp; {TICK}tick{TICK} xxx")
        assert name.group(1).endswith("…") and len(name.group(1)) < 80
    assert_inert(Message(text="", blocks=blocks))
    assert_block_kit(blocks)


# -- notice ------------------------------------------------------------------------------------


def test_a_failing_rollout_notice() -> None:
    message = notice(change(), model_name="llama")
    assert message.text == f"Promotion guard: llama / v2 → staging is failing: {REASON}"
    texts = [b.get("text", {}).get("text") for b in message.blocks]
    assert texts[0] == ":rotating_light: *Promotion guard*: the promotion of *v2* → *staging* of *llama* is failing"
    assert texts[1] == f"• {REASON}"
    assert message.blocks[2]["fields"] == [
        {"type": "mrkdwn", "text": "*Candidate* `v2`\n1,000 requests · 5xx 8% · p95 500 ms"},
        {"type": "mrkdwn", "text": "*Current* `v1`\n1,000 requests · 5xx 0.5% · p95 400 ms"},
    ]
    context = message.blocks[-1]["elements"][0]["text"]
    assert context == "Guard `5xx:2%,p95:2x,min:50` · candidate and current over the same window"
    assert len(message.blocks) == 4
    assert_block_kit(message.blocks)


def test_a_failing_notice_after_the_promotion() -> None:
    message = notice(
        change(AFTER, reasons=[REASON, "p95 2 s is above 2x the current's 400 ms (800 ms)"]), model_name="llama"
    )
    reasons = f"{REASON}; p95 2 s is above 2x the current's 400 ms (800 ms)"
    assert message.text == f"Promotion guard: llama / v2 in staging is failing since it was promoted: {reasons}"
    head = message.blocks[0]["text"]["text"]
    assert head == (
        ":rotating_light: *Promotion guard*: "
        "*v2*, now current in *staging* of *llama*, is failing since it was promoted"
    )
    assert message.blocks[1]["text"]["text"].count("\n• ") == 1
    fields = [f["text"].split("\n")[0] for f in message.blocks[2]["fields"]]
    assert fields == ["*Since promoted* `v2`", "*Before, replaced* `v1`"]
    assert message.blocks[-1]["elements"][0]["text"].endswith(
        "compared with the deployment it replaced, before the promotion"
    )
    assert_block_kit(message.blocks)


def test_a_notice_says_the_guard_paused_the_promotion() -> None:
    message = notice(change(paused="paused"), model_name="llama")
    assert (
        message.text
        == f"Promotion guard: llama / v2 → staging is failing: {REASON}; the promotion guard paused the promotion"
    )
    paused = [t for b in message.blocks if (t := b.get("text", {}).get("text", "")).startswith(":double_vertical_bar:")]
    assert paused == [
        ":double_vertical_bar: The promotion guard paused the promotion: traffic stays "
        "where it is until someone resumes or cancels it."
    ]


def test_a_notice_says_why_the_guard_could_not_pause_the_promotion() -> None:
    why = "Baseten answered 409 <!here> & the promotion had ended"
    message = notice(change(paused=why), model_name="llama")
    said = re.fullmatch(
        rf"Promotion guard: llama / v2 → staging is failing: {re.escape(REASON)}; "
        r"the promotion guard did not pause it: (.*)",
        message.text,
    )
    assert said is not None, message.text
    assert "Baseten answered 409" in said.group(1) and said.group(1).endswith("the promotion had ended")
    (block,) = [b for b in message.blocks if b.get("text", {}).get("text", "").startswith(":x:")]
    assert block["text"]["text"].endswith(": Baseten answered 409 &lt;!here&gt; &amp; the promotion had ended")
    assert "paused the promotion" not in message.text and "double_vertical_bar" not in json.dumps(message.blocks)
    assert_inert(message)


def test_a_notice_carries_the_controls_it_is_given() -> None:
    button = {"type": "button", "text": {"type": "plain_text", "text": "Pause"}, "action_id": "pause_promotion"}
    message = notice(change(), model_name="llama", actions=[button])
    assert message.blocks[-1] == {"type": "actions", "elements": [button]}
    assert_block_kit(message.blocks)


def test_a_notice_of_hostile_names_is_inert_trimmed_and_within_slacks_sizes() -> None:
    detail = {"environment": HOSTILE, "baseline_name": HOSTILE, "spec": HOSTILE, "reasons": [HOSTILE] * 40}
    message = notice(replace(change(paused=HOSTILE * 20, **detail), deployment_name=HOSTILE), model_name=HOSTILE)
    assert len(message.text) <= 1000 and message.text.endswith("…")
    assert message.text.startswith("Promotion guard: ") and "<!channel>" not in message.text
    assert "x" * 81 not in message.text.split(" is failing: ")[0]  # each name cut to NAME
    head = message.blocks[0]["text"]["text"]
    assert "x" * 80 not in head and head.count("&lt;!channel&gt;") == 3 and "<!channel>" not in head
    for field in message.blocks[2]["fields"]:
        assert field["text"].count("`") == 2 and f"{TICK}tick{TICK}" in field["text"]
    context = message.blocks[-1]["elements"][0]["text"]
    assert context.count("`") == 2 and "x" * 100 not in context
    assert "<!channel>" not in json.dumps(message.blocks)
    assert_inert(message)
    assert_block_kit(message.blocks)


def test_a_notice_without_reasons_or_windows_is_still_valid() -> None:
    message = notice(change(reasons=[], candidate=None, current="junk", baseline_name=None), model_name="")
    assert message.text == "Promotion guard: m1 / v2 → staging is failing:"
    assert message.blocks[1]["text"]["text"] == "•"
    assert [f["text"] for f in message.blocks[2]["fields"]] == [
        "*Candidate* `v2`\nnot read yet",
        "*Current* `cur1`\nnot read yet",
    ]
    assert_block_kit(message.blocks)


@pytest.mark.parametrize("phase", [ROLLOUT, AFTER])
def test_a_notices_text_escapes_each_name_once(phase: str) -> None:
    detail = {"environment": "a&b", "paused": "409 <!here> & ended"}
    message = notice(replace(change(phase, **detail), deployment_name="<!channel> & `x`"), model_name="m & co")
    names = "m &amp; co / &lt;!channel&gt; &amp; `x` " + ("in a&amp;b" if phase == AFTER else "→ a&amp;b")
    assert message.text.startswith(f"Promotion guard: {names} is failing")
    assert message.text.endswith(" pause it: 409 &lt;!here&gt; &amp; ended")
    assert "&amp;lt;" not in message.text and "&amp;amp;" not in message.text


texts = st.one_of(
    st.text(max_size=300), st.sampled_from(INJECTIONS), st.lists(st.sampled_from(INJECTIONS)).map("".join)
)


@settings(max_examples=100, deadline=None)
@given(name=texts, env=texts, reason=texts, paused=texts, after=st.booleans())
def test_any_names_make_an_inert_valid_notice_and_live_section(
    name: str, env: str, reason: str, paused: str, after: bool
) -> None:
    detail = {"environment": env, "baseline_name": name, "reasons": [reason] * 3, "paused": paused, "spec": name}
    message = notice(replace(change(AFTER if after else ROLLOUT, **detail), deployment_name=name), model_name=name)
    assert len(message.text) <= 1000
    assert_inert(message)
    assert_block_kit(message.blocks)
    live = live_blocks(check(candidate_name=name, baseline_name=name, current=Window(note=reason)), DEFAULT)
    assert_inert(Message(text="", blocks=live))
    assert_block_kit(live)
