"""Acting, in pure parts and against a real SQLite file: the commands, which buttons fit which
status, Baseten's answers in words, the buttons' values, the cards, and the one-click record."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.actions import buttons
from bot.actions.answers import outcome
from bot.actions.checks import Shown
from bot.actions.verbs import JOB_VERBS, VERBS, Target, decode, encode, fits, fitting
from bot.app.db import make_async_engine, sessions
from bot.app.runtime import slack_client
from bot.commands.parse import parse
from bot.commands.typed import Act, UsageError
from bot.domain.changes import PROMOTION, SETTLED, STATUS, Change
from bot.domain.status import KNOWN
from bot.render import notices
from bot.slack.admins import AllowList, operators
from bot.store.actions import ActionLog, Click
from bot.store.tables import Transition
from tests.fakes import BOT_TOKEN, Canned, FakeSlack
from tests.test_render import NOW, golden, within_limits

TARGET = Target("mdl1abcd", "dep4fail", "production", "llama-3-8b", "v4")
SHOWN = Shown("0123456789abcdef", datetime(2026, 11, 28, 10, 0, tzinfo=UTC), "BUILD_FAILED", "-")


@pytest.mark.parametrize(
    ("text", "act"),
    [
        ("retry llama v4", Act("retry", "llama", "v4")),
        ("ACTIVATE llama v2", Act("activate", "llama", "v2")),
        ("deactivate llama production", Act("deactivate", "llama", "production")),
        ("promote llama v4", Act("promote", "llama", "v4", "production")),
        ("promote llama v4 env:staging", Act("promote", "llama", "v4", "staging")),
        ("promote llama env:staging v4", Act("promote", "llama", "v4", "staging")),
        ("rollback llama", Act("rollback", "llama", "", "production")),
        ("rollback llama env:staging", Act("rollback", "llama", "", "staging")),
    ],
)
def test_the_action_commands_parse(text: str, act: Act) -> None:
    assert parse(text, statuses=KNOWN) == act


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("retry llama", "needs a model and a deployment"),
        ("retry", "needs a model and a deployment"),
        ("rollback", "needs a model."),
        ("retry llama v4 v5", "Too many arguments"),
        ("rollback llama v3", "Too many arguments"),
        ("retry llama ../../v1", "not a valid deployment id"),
        ("retry <!channel> v4", "not a valid model id"),
        ("promote llama v4 env:", "not a valid environment name"),
        ("promote llama v4 env:a/b", "not a valid environment name"),
        ("activate llama v2 env:staging", "acts on a deployment, not an environment"),
    ],
)
def test_bad_action_commands_say_why_before_any_request(text: str, says: str) -> None:
    with pytest.raises(UsageError, match=says):
        parse(text, statuses=KNOWN)


@pytest.mark.parametrize(
    ("status", "production", "verbs"),
    [
        ("BUILD_FAILED", False, ["retry"]),
        ("DEPLOY_FAILED", False, ["retry"]),
        ("DEPLOY_FAILED", True, ["retry", "rollback"]),
        ("UNHEALTHY", True, ["rollback"]),
        ("FAILED", True, ["rollback"]),
        ("UNHEALTHY", False, ["deactivate"]),
        ("INACTIVE", False, ["activate"]),
        ("INACTIVE", True, ["activate"]),
        ("ACTIVE", True, ["deactivate"]),
        ("SCALED_TO_ZERO", False, ["deactivate"]),
        ("BUILDING", False, []),
        ("DEACTIVATING", False, []),
        ("SOMETHING_NEW", False, []),
    ],
)
def test_the_buttons_fit_the_status(status: str, production: bool, verbs: list[str]) -> None:
    assert fitting(status, production=production) == verbs


@pytest.mark.parametrize(
    ("verb", "code", "body", "accepted", "words"),
    [
        ("retry", 200, {"retried": True, "deployment": {}}, True, "Baseten accepted it"),
        (
            "retry",
            200,
            {"retried": False, "reason": "Not failed\n<!here>"},
            False,
            "Baseten did not retry it: Not failed <!here>",
        ),
        ("retry", 200, {"retried": False, "reason": None}, False, "Baseten did not retry it: it gave no reason"),
        ("activate", 200, {"success": True}, True, "Baseten accepted it"),
        ("deactivate", 200, {"success": False}, False, "Baseten answered that it did not deactivate it"),
        ("promote", 200, {"id": "d", "status": "UPDATING"}, True, "Baseten accepted it"),
        ("retry", 403, {"error": "No access"}, False, "Baseten refused it (403: No access): the bot's API key"),
        (
            "retry",
            429,
            {"error": "Slow down", "retry_after": 12},
            False,
            "(429, too many of these a minute: Slow down); try again in 12s",
        ),
        ("retry", 500, {"error": "oops"}, False, "Baseten failed (500: oops); the bot did not try again"),
        ("retry", None, None, False, "Baseten did not answer"),
    ],
)
def test_baseten_answers_in_words_as_given(verb: str, code: int | None, body: Any, accepted: bool, words: str) -> None:
    out = outcome(VERBS[verb].read, code, body)
    assert out.accepted is accepted and words in out.words and out.status_code == code


def test_a_button_value_comes_back_only_as_the_bot_wrote_it() -> None:
    job = Target("training:" + "p" * 55, "j" * 64, "production", "🚀" * 80, "🔥" * 80)  # the longest project key
    for verb in VERBS:
        target = job if verb in JOB_VERBS else TARGET
        value = encode(verb, target)
        assert len(value) <= 2000 and decode(value) == (VERBS[verb], target)
    assert decode('{"v":"retry","m":"../x","d":"d","e":"production","mn":"","dn":""}') is None
    assert decode('{"v":"drop_tables","m":"m","d":"d","e":"production"}') is None
    assert decode('{"v":"retry","m":"m","d":["d"],"e":"production"}') is None
    assert decode("not json") is None
    worst = Target("m" * 64, "d" * 64, "e" * 64, "🚀" * 200, "🔥" * 200, "x" * 64)
    for verb in set(VERBS) - set(
        JOB_VERBS
    ):  # the longest ids and names the bot keeps, in characters Slack counts one each
        value = encode(verb, worst)
        assert len(value) <= 2000, len(value)
        decoded = decode(value)
        assert decoded is not None and decoded[1].expect == "x" * 64 and decoded[1].model_name == "🚀" * 80
    assert decode('{"v":"rollback","m":"m","d":"d","e":"production","x":"a/b"}') is None


def test_requests_are_the_published_paths_and_bodies() -> None:
    assert VERBS["retry"].request(TARGET) == ("/v1/models/mdl1abcd/deployments/dep4fail/retry", {})
    assert VERBS["deactivate"].request(TARGET) == ("/v1/models/mdl1abcd/deployments/dep4fail/deactivate", {})
    assert VERBS["promote"].request(TARGET) == ("/v1/models/mdl1abcd/deployments/dep4fail/promote", {})
    staging = Target("mdl1abcd", "dep4fail", "staging")
    assert VERBS["rollback"].request(staging) == (
        "/v1/models/mdl1abcd/environments/staging/promote",
        {"deployment_id": "dep4fail"},
    )
    with pytest.raises(ValueError, match="not a plain id"):
        VERBS["retry"].request(Target("mdl1abcd", "a/b"))
    for signal in ("pause_promotion", "resume_promotion", "cancel_promotion", "force_roll_forward_promotion"):
        assert VERBS[signal].request(staging) == (f"/v1/models/mdl1abcd/environments/staging/{signal}", {})
        assert VERBS[signal].needs_deployment is False


@pytest.mark.parametrize(
    ("status", "controls"),
    [
        ("RELEASING", ["pause_promotion", "cancel_promotion", "force_roll_forward_promotion"]),
        ("RAMPING_UP", ["pause_promotion", "cancel_promotion", "force_roll_forward_promotion"]),
        ("PAUSED", ["resume_promotion", "cancel_promotion", "force_roll_forward_promotion"]),
        ("RAMPING_DOWN", []),  # a cancel on its way back
        ("SUCCEEDED", []),
        ("FAILED", []),
        ("CANCELED", []),
    ],
)
def test_a_promotion_carries_the_controls_that_fit_its_status(status: str, controls: list[str]) -> None:
    change = Change(
        PROMOTION, "mdl1abcd", "dep4fail", "v4", "RELEASING", status, NOW, None, {"environment": "staging", "key": "k"}
    )
    shown = [b["action_id"].removeprefix(buttons.ASK) for b in buttons.promotion_buttons(change, "llama")]
    assert shown == controls
    for verb in controls:
        assert fits(verb, status, production=False)
    ended = Change(PROMOTION, "mdl1abcd", "dep4fail", "v4", "RAMPING_UP", status, NOW, None, {"final": True})
    assert buttons.promotion_buttons(ended, "llama") == []


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"status": "CANCELED", "message": "Promotion canceled"}, "Baseten accepted it: Promotion canceled"),
        ({"status": "RAMPING_DOWN", "message": "Ramping down"}, "Baseten is ramping it down: Ramping down"),
    ],
)
def test_a_cancel_says_how_baseten_took_it(body: dict[str, str], words: str) -> None:
    out = outcome(VERBS["cancel_promotion"].read, 200, body)
    assert out.accepted and out.words == words


def test_the_confirmation_card_golden_with_one_confirmed_button() -> None:
    card = buttons.confirmation(VERBS["retry"], TARGET, SHOWN)
    golden("confirm_retry", card)
    within_limits(card)
    (actions,) = [b for b in card.blocks if b["type"] == "actions"]
    (button,) = actions["elements"]
    assert button["action_id"] == "act_do_retry" and button["confirm"]["deny"]["text"] == "Cancel"


def test_every_do_button_asks_slack_to_confirm_and_no_ask_button_changes_anything() -> None:
    for verb in VERBS.values():
        do = buttons.do_button(verb, TARGET, SHOWN)
        assert do["confirm"]["title"]["text"] and do["confirm"]["text"]["text"], verb.name
        ask = buttons.ask_button(verb, TARGET)
        assert ask["action_id"].startswith(buttons.ASK) and "confirm" not in ask


def _failure(is_production: bool, status: str = "UNHEALTHY") -> Change:
    return Change(
        STATUS,
        "mdl1abcd",
        "dep1prod",
        "v3",
        "ACTIVE",
        status,
        NOW,
        NOW - timedelta(hours=3, minutes=2),
        {"old_replicas": 2, "new_replicas": 0, "is_production": is_production, "environment": "production"},
    )


def test_a_failure_notice_with_buttons_golden() -> None:
    change = _failure(True, "DEPLOY_FAILED")
    message = notices.notice(
        change, model_name="llama-3-8b", now=NOW, actions=buttons.notice_buttons(change, "llama-3-8b")
    )
    golden("notice_failure_buttons", message)
    within_limits(message)
    labels = [e["text"]["text"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    assert labels == ["Open in Baseten", "Retry…", "Roll back…"]


def test_only_failure_notices_carry_buttons() -> None:
    assert buttons.notice_buttons(_failure(False, "ACTIVE"), "m") == []
    assert [b["action_id"] for b in buttons.notice_buttons(_failure(False), "m")] == ["act_ask_deactivate"]
    settled = replace(_failure(True), kind=SETTLED)  # flapping ended, failing: lines and buttons alike
    assert [b["action_id"] for b in buttons.notice_buttons(settled, "m")] == ["act_ask_rollback"]


async def test_an_operator_group_slack_cannot_read_admits_nobody(slack: FakeSlack) -> None:
    """Fail closed: someone just removed from the on-call group must not act because Slack is down."""
    slack.usergroups["S0ONCALL"] = ["U0CAROL"]
    clock = [0.0]
    client = slack_client(BOT_TOKEN, slack.api_url)
    ops = operators(frozenset(), frozenset({"S0ONCALL"}), client)
    admins = AllowList(frozenset(), frozenset({"S0ONCALL"}), client, clock=lambda: clock[0])
    ops._clock = lambda: clock[0]
    try:
        assert await ops.allows("U0CAROL") and await admins.allows("U0CAROL")
        slack.script("usergroups.users.list", *[Canned(200, {"ok": False, "error": "internal_error"})] * 2)
        clock[0] += 61  # the minute is over: both ask Slack again, and Slack fails
        assert await ops.allows("U0CAROL") is False
        assert await admins.allows("U0CAROL") is True  # subscriptions keep the last members seen
    finally:
        if client.session is not None:
            await client.session.close()


async def test_two_replicas_clicking_at_once_claim_the_card_once(db_url: str) -> None:
    """The unique card id, not one process's lock, makes one card one request: two engines race."""
    now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    engines = [make_async_engine(db_url) for _ in range(2)]
    logs = [ActionLog(sessions(e), now=lambda: now) for e in engines]
    click = Click("T1", "C1", "U1", "1700000000.000001", "retry", "m1", "d1", "production")
    try:
        for i in range(5):
            got = await asyncio.gather(*(log.claim(click, f"{i:016x}") for log in logs))
            assert sorted(x is None for x in got) == [False, True], got
    finally:
        for e in engines:
            await e.dispose()


def test_operators_unset_admit_nobody_and_show_no_buttons() -> None:
    nobody = operators()
    assert nobody.settled("U0ANY") is False and not nobody.anyone
    assert asyncio.run(nobody.allows("U0ANY")) is False
    some = operators(frozenset({"U0OPS"}))
    assert some.anyone and some.settled("U0OPS") is True and some.settled("U0ANY") is False
    assert AllowList().anyone and AllowList().settled("U0ANY") is True  # admins: unset is everyone


async def test_a_card_is_claimed_once_at_any_time(db_url: str) -> None:
    now = [datetime(2026, 11, 28, 10, 0, tzinfo=UTC)]
    engine = make_async_engine(db_url)
    log = ActionLog(sessions(engine), now=lambda: now[0])
    click = Click("T1", "C1", "U1", "1700000000.000001", "retry", "m1", "d1", "production")
    first = await log.claim(click, "00000000000000a1")
    assert first is not None
    assert await log.claim(click, "00000000000000a1") is None  # a double click
    assert await asyncio.gather(log.claim(click, "00000000000000a1"), log.claim(click, "00000000000000a1")) == [
        None,
        None,
    ]
    other = replace(click, user_id="U2")
    assert await log.claim(other, "00000000000000a1") is None  # the card, not the user, is what is spent
    now[0] += timedelta(days=3)
    assert await log.claim(click, "00000000000000a1") is None  # days later: still spent
    again = await log.claim(click, "00000000000000b2")  # the same button on a fresh card: a new action
    assert again is not None and again != first
    await log.finish(first, status_code=200, outcome="accepted", reason="Baseten accepted it", answer="{}")
    await engine.dispose()


async def test_rollback_reads_the_latest_promotion_of_the_environment(db_url: str) -> None:
    engine = make_async_engine(db_url)
    factory = sessions(engine)
    log = ActionLog(factory)
    assert await log.previous_of("m1", "production") is None
    at = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    async with factory.begin() as session:
        for dep, detail in [
            ("d2", {"previous_deployment_id": "d1", "previous_deployment_name": "v1"}),
            ("d3", {"previous_deployment_id": "d2", "previous_deployment_name": "v2"}),
            ("s2", {"previous_deployment_id": "s1", "previous_deployment_name": "s-one", "environment": "staging"}),
        ]:
            session.add(
                Transition(
                    kind="promoted", model_id="m1", deployment_id=dep, deployment_name=dep,
                    new_status="PRODUCTION", detected_at=at, detail=detail,
                )
            )  # fmt: skip
    production = await log.previous_of("m1", "production")
    assert production is not None and (production.deployment_id, production.promoted_id) == ("d2", "d3")
    staging = await log.previous_of("m1", "staging")
    assert staging is not None and staging.deployment_id == "s1" and staging.deployment_name == "s-one"
    assert await log.previous_of("m1", "canary") is None
    await engine.dispose()


async def test_a_promotion_the_bots_own_rollback_made_is_known_as_one(db_url: str) -> None:
    """v3 -> v2 (a promotion), then an operator rolls back to v3: the latest promotion is that rollback,
    so v2, which it replaced, is never offered back. A later rollback to v3 elsewhere does not count."""
    engine = make_async_engine(db_url)
    factory = sessions(engine)
    at = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    now = [at]
    log = ActionLog(factory, now=lambda: now[0])

    async def promoted(dep: str, previous: str, when: datetime, environment: str = "production") -> None:
        async with factory.begin() as session:
            detail = {
                "previous_deployment_id": previous,
                "previous_deployment_name": previous,
                "environment": environment,
            }
            session.add(
                Transition(
                    kind="promoted", model_id="m1", deployment_id=dep, deployment_name=dep,
                    new_status="PRODUCTION", detected_at=when, detail=detail,
                )
            )  # fmt: skip

    async def rolled_back(to: str, card: str, environment: str = "production", outcome: str = "accepted") -> None:
        action = await log.claim(Click("T1", "C1", "U1", "1.2", "rollback", "m1", to, environment), card)
        assert action is not None
        await log.finish(action, status_code=200, outcome=outcome, reason="", answer="")

    await promoted("v2", "v3", at)
    now[0] = at + timedelta(minutes=1)
    await rolled_back("v3", "00000000000000a1", outcome="stale")  # not sent: it does not count
    await rolled_back("v3", "00000000000000a2", environment="staging")  # another environment's
    first = await log.previous_of("m1", "production")
    assert first is not None and (first.deployment_id, first.by_rollback) == ("v3", False)
    await rolled_back("v3", "00000000000000a3")
    await promoted("v3", "v2", at + timedelta(minutes=2))
    after = await log.previous_of("m1", "production")
    assert after is not None and (after.deployment_id, after.promoted_id, after.by_rollback) == ("v2", "v3", True)
    await promoted("v2", "v3", at + timedelta(minutes=3))  # someone promotes v2 again, by hand
    again = await log.previous_of("m1", "production")
    assert again is not None and (again.deployment_id, again.by_rollback) == ("v3", False)
    await engine.dispose()
