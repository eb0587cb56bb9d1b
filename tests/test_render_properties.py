"""Property tests: whatever Baseten calls a model, a deployment, a status, an environment
or a person, no rendered message carries live Slack markup (a mention, a channel link, a
broadcast, a link of its own) and every message stays a valid Block Kit payload."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.baseten.models import Deployment, Model
from bot.commands.wording import describe_target
from bot.domain.changes import FLAPPING, GONE, NEW, PROMOTED, SETTLED, STATUS, STUCK, Change
from bot.render import cards, notices
from bot.render.text import mrkdwn
from tests.fakes import deployment, model

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
INJECTIONS = [
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123>",
    "<#C123>",
    "<!subteam^S123>",
    "<https://evil.example|click me>",
    "&lt;!channel&gt;",
    "&amp;",
    "*bold* _it_ `code`",
    "\u202e\u0000\x1b[31m",
    "a" * 5000,
]
# Baseten-supplied text: arbitrary unicode (control characters included), markup, or both
texts = st.one_of(
    st.text(max_size=300), st.sampled_from(INJECTIONS), st.lists(st.sampled_from(INJECTIONS)).map("".join)
)
ids = st.one_of(st.text(min_size=1, max_size=80), st.sampled_from(INJECTIONS))

# the only markup the renderer itself writes: dashboard links and localised dates
OWN_MARKUP = re.compile(
    r"<https://app\.baseten\.co/[^<>|\s]*(\|[^<>]*)?>|<!date\^\d+\^[^<>|]*\|[^<>]*>|<@U0ME>"
)  # U0ME: the Slack user who shared a card, named on purpose
ENTITY = re.compile(r"&(amp|lt|gt);")


def mrkdwn_strings(message: cards.Message) -> list[str]:
    out = [message.text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                out.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.blocks)
    return out


def assert_inert(message: cards.Message) -> None:
    for text in mrkdwn_strings(message):
        bare = OWN_MARKUP.sub("", text)
        assert "<" not in bare and ">" not in bare, text
        assert "&" not in ENTITY.sub("", bare), text  # every & starts an escape the bot wrote
    for block in message.blocks:
        for element in block.get("elements", []):
            url = element.get("url")
            if url is not None:
                assert re.fullmatch(r"https://app\.baseten\.co/[A-Za-z0-9/_%.~-]*", url), url
    assert len(message.blocks) <= cards.MAX_BLOCKS
    assert len(message.text) <= 40_000


@settings(max_examples=150, deadline=None)
@given(model_name=texts, dep_name=texts, status=texts, env=texts, model_id=ids, dep_id=ids)
def test_cards_and_overviews_never_carry_live_markup(
    model_name: str, dep_name: str, status: str, env: str, model_id: str, dep_id: str
) -> None:
    raw = deployment(dep_id, model_id, name=dep_name or "x", status=status, environment=env, is_production=True)
    dep = Deployment.model_validate(raw)
    assert_inert(cards.deployment_card(dep, model_name=model_name, now=NOW, shareable=True, shared_by="U0ME"))
    mdl = Model.model_validate(model(model_id, model_name or "x", [raw]))
    assert_inert(cards.model_overview(mdl, [dep, dep], now=NOW, shareable=True))


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from([STATUS, NEW, GONE, PROMOTED, STUCK, FLAPPING, SETTLED]),
    model_name=texts,
    dep_name=texts,
    old=st.one_of(st.none(), texts),
    new=texts,
    env=texts,
    actor=texts,
    model_id=ids,
    dep_id=ids,
    previous=ids,
)
def test_notices_and_thread_parents_never_carry_live_markup(
    kind: str,
    model_name: str,
    dep_name: str,
    old: str | None,
    new: str,
    env: str,
    actor: str,
    model_id: str,
    dep_id: str,
    previous: str,
) -> None:
    detail = {
        "environment": env,
        "actor": actor,
        "previous_deployment_id": previous,
        "previous_deployment_name": dep_name,
        "changes": 5,
    }
    change = Change(kind, model_id, dep_id, dep_name, old, new, NOW, NOW - timedelta(minutes=42), detail)
    assert_inert(notices.notice(change, model_name=model_name, now=NOW))
    assert_inert(notices.thread_parent(first=change, latest=change, model_name=model_name, replies=3))


@settings(max_examples=100, deadline=None)
@given(message=texts, usage=texts, target=ids, target_name=texts)
def test_errors_and_listings_echo_text_inertly(message: str, usage: str, target: str, target_name: str) -> None:
    assert_inert(cards.error(message, usage=usage))
    assert_inert(cards.info(message))
    listed = describe_target(target, target_name)  # a `list` line names what a subscription watches
    assert_inert(cards.Message(text=f"{listed} · {mrkdwn(target_name)}"))  # as written into mrkdwn
