"""Why it failed, the pure half: hostile log text made safe, the log window, and golden notices."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.baseten.models import LogLine
from bot.domain.changes import NEW, STATUS, STUCK, Change
from bot.render import excerpt, notices, text
from tests.test_render import NOW, golden, within_limits
from tests.test_render_properties import assert_inert, texts

HOSTILE = [
    "<!channel> <!here|here> <@U1> <#C1|general> @here and @everyone: disk full",
    "&lt;script&gt; & <b>bold</b>",
    "x" * 10_000,
    "bell\x07 nul\x00 esc\x1b[31mred\x1b[0m rlo\u202edetsurt zero\u200bwidth\r\nsecond\tline",
    "```\nclosed the block?``` and `inline`",
]


def change(why: Any = None, *, kind: str = STATUS, new: str = "UNHEALTHY") -> Change:
    detail: dict[str, Any] = {"old_replicas": 2, "new_replicas": 0, "is_production": True, "environment": "production"}
    if why is not None:
        detail[excerpt.WHY] = why
    return Change(kind, "mdl1abcd", "dep1prod", "v3", "ACTIVE", new, NOW, NOW - timedelta(hours=3, minutes=2), detail)


def logs(*messages: str) -> list[LogLine]:
    """As Baseten answers with direction=desc: the newest first."""
    return [LogLine(timestamp=str(10**18 - i), message=m, replica="r1", level="ERROR") for i, m in enumerate(messages)]


def code_block(message: Any) -> str:
    texts = [b["text"]["text"] for b in message.blocks if b["type"] == "section" and "text" in b]
    (found,) = [t for t in texts if "```" in t]
    return str(found)


def test_hostile_log_lines_are_shortened_escaped_and_cannot_escape_the_code_block() -> None:
    why = excerpt.found(logs(*HOSTILE), {"commit": "<!channel> `abc`", "ci": {"run": 7}}, since=NOW)
    message = notices.notice(change(json.loads(json.dumps(why))), model_name="llama-3-8b", now=NOW)
    within_limits(message)
    assert message.text == "llama-3-8b / v3: ACTIVE → UNHEALTHY"
    block = code_block(message)
    assert block.count("```") == 2 and block.endswith("\n```")  # no line closes the block early
    body = block.split("```")[1].strip("\n").split("\n")
    assert len(body) == 5  # one line per log line: their own newlines are gone
    # shown oldest first, as a log reads; Baseten sent the newest first
    assert body[0].startswith("ˋˋˋ closed the block?ˋˋˋ and ˋinlineˋ")
    assert body[-1].startswith("&lt;!channel&gt; &lt;!here|here&gt; &lt;@U1&gt; &lt;#C1|general&gt; @\u200bhere")
    assert "@\u200beveryone" in body[-1]
    assert body[-2] == "&amp;lt;script&amp;gt; &amp; &lt;b&gt;bold&lt;/b&gt;"  # shows `&lt;` as typed
    assert len(body[2]) <= excerpt.SHOWN and body[2].endswith("…")  # the 10,000-character line
    assert body[1] == "bell nul escred rlodetsurt zerowidth second line"
    for line in body:
        assert all(ch == "\u200b" or not unicodedata.category(ch).startswith("C") for ch in line), line
    everything = json.dumps(message.blocks)
    for mention in ("<!channel", "<!here", "<@U1", "<#C1"):
        assert mention not in everything
    labels = message.blocks[-3]["elements"][0]["text"]
    assert labels == 'Labels: commit: &lt;!channel&gt; ˋabcˋ · ci: {"run": 7}'


@settings(max_examples=150, deadline=None)
@given(messages=st.lists(texts, max_size=7), labels=st.dictionaries(texts, st.one_of(texts, st.integers()), max_size=9))
def test_any_log_text_or_label_stays_inert_and_in_its_place(messages: list[str], labels: dict[str, Any]) -> None:
    why = json.loads(json.dumps(excerpt.found(logs(*messages), labels, since=NOW)))  # as read back from the database
    message = notices.notice(change(why), model_name="m", now=NOW)
    assert_inert(message)
    within_limits(message)
    blocks = json.dumps(message.blocks)
    if any(text.line(m) for m in messages[: excerpt.MAX_LINES]):  # the newest five
        assert code_block(message).count("```") == 2
    else:
        assert "```" not in blocks


def test_what_is_kept_is_bounded_before_it_reaches_the_database() -> None:
    why = excerpt.found(logs(*(["y" * 10_000] * 9)), {f"k{i}": "v" * 5000 for i in range(20)}, since=NOW)
    assert len(why["lines"]) == excerpt.MAX_LINES and all(len(line) <= excerpt.KEEP for line in why["lines"])
    assert len(why["labels"]) == excerpt.MAX_LABELS
    assert all(len(v) <= excerpt.KEEP for v in why["labels"].values())
    assert json.loads(json.dumps(why)) == why  # plain JSON for the transition's detail column


def test_golden_failure_notice_with_error_lines_and_labels() -> None:
    lines = logs(
        "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
        "Traceback (most recent call last): model.load() failed",
    )
    labels = {"commit": "9f1c2ab", "ci_run": "https://github.com/acme/llama/actions/runs/42"}
    message = notices.notice(change(excerpt.found(lines, labels, since=NOW)), model_name="llama-3-8b", now=NOW)
    golden("notice_failure_logs", message)
    assert message.text == "llama-3-8b / v3: ACTIVE → UNHEALTHY"
    within_limits(message)


def test_golden_failure_notice_when_the_logs_could_not_be_read() -> None:
    message = notices.notice(change(excerpt.unread("timeout", None)), model_name="llama-3-8b", now=NOW)
    golden("notice_failure_unread", message)
    assert "did not answer in time" in json.dumps(message.blocks)
    assert "```" not in json.dumps(message.blocks)
    assert message.text == "llama-3-8b / v3: ACTIVE → UNHEALTHY"


def test_no_error_lines_says_since_when() -> None:
    message = notices.notice(change(excerpt.found([], None, since=NOW)), model_name="m", now=NOW)
    assert "No ERROR lines in Baseten's logs since <!date^1795780800^" in json.dumps(message.blocks)


def test_a_detail_not_shaped_as_written_shows_nothing() -> None:
    plain = notices.notice(change(), model_name="m", now=NOW)
    for junk in ("text", 3, [1], {"lines": "abc"}, {"labels": ["a"]}, {}):
        assert notices.notice(change(junk), model_name="m", now=NOW).blocks == plain.blocks


def test_only_failures_ask_for_logs() -> None:
    assert excerpt.wants_logs(change())
    assert excerpt.wants_logs(change(kind=NEW, new="BUILD_FAILED"))
    assert not excerpt.wants_logs(change(new="ACTIVE"))
    assert not excerpt.wants_logs(change(kind=STUCK, new="BUILDING"))


AT = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_a_build_failure_reads_back_to_the_deployments_creation() -> None:
    created, seen = AT - timedelta(hours=5), AT - timedelta(minutes=3)  # first seen mid-build
    for status in ("BUILD_FAILED", "DEPLOY_FAILED"):
        assert excerpt.window_start(status, created_at=created, old_since=seen, now=AT) == created


def test_a_runtime_failure_reads_back_to_its_last_known_good_state() -> None:
    created, healthy = AT - timedelta(days=90), AT - timedelta(hours=6)
    assert excerpt.window_start("UNHEALTHY", created_at=created, old_since=healthy, now=AT) == healthy
    # a card knows no state: back to the creation, within Baseten's limit
    start = excerpt.window_start("FAILED", created_at=AT - timedelta(days=1), old_since=None, now=AT)
    assert start == AT - timedelta(days=1)


def test_the_window_stays_within_what_baseten_allows() -> None:
    ancient = AT - timedelta(days=90)
    start = excerpt.window_start("BUILD_FAILED", created_at=ancient, old_since=None, now=AT)
    assert start == AT - timedelta(days=7) + timedelta(hours=1)  # 7 days at most, less clock skew
    recent = excerpt.window_start("UNHEALTHY", created_at=None, old_since=AT - timedelta(minutes=1), now=AT)
    assert recent == AT - timedelta(minutes=30)  # never less than Baseten's own default
    unknown = excerpt.window_start("FAILED", created_at=None, old_since=None, now=AT)
    assert unknown == AT - timedelta(days=7) + timedelta(hours=1)
    naive = excerpt.window_start("BUILD_FAILED", created_at=datetime(2026, 11, 27, 10, 0), old_since=None, now=AT)
    assert naive == AT - timedelta(hours=2)
