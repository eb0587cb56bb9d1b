"""A running promotion's controls on its live message (Pause, Resume, Cancel, Force roll forward),
through the real `serve` process: each asks first with a card built from the promotion as Baseten
shows it then, acts with one request after Slack's confirm, and says so in the promotion's thread."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path
from typing import Any

from tests.conftest import MODEL, BotProcess, any_database
from tests.fakes import FakeBaseten, FakeSlack, deployment, wait_until
from tests.test_act_e2e import OPS, buttons, click, do_button
from tests.test_promotion_messages_e2e import NEW, edits, posts, staging, start, subscribe, top_level
from tests.test_slash_e2e import answer, post_command

__all__ = ["staging"]  # the fixture, used by name below

wait = partial(wait_until, timeout=30.0)
CONTROLS = "/v1/models/" + MODEL + "/environments/staging/"
CONTROL_VERBS = ("pause_promotion", "resume_promotion", "cancel_promotion", "force_roll_forward_promotion")


def asks(message: dict[str, object]) -> dict[str, dict[str, object]]:
    """The message's ask buttons by verb."""
    return {
        str(b["action_id"]).removeprefix("act_ask_"): b
        for b in buttons(message)
        if str(b["action_id"]).startswith("act_ask_")
    }


def promotion_message(
    bot: BotProcess, baseten: FakeBaseten, slack: FakeSlack, status: str, percent: int
) -> dict[str, Any]:
    """C1 follows env:staging; once its baseline is taken, v4's promotion starts: its live message."""
    subscribe(bot, slack, "env:staging")
    bot.wait_cycles(2)
    baseten.start_promotion(MODEL, "staging", NEW, status, percent)
    wait(lambda: top_level(slack), what="the live message")
    return top_level(slack)[0]


def test_pause_then_resume_from_the_promotion_message(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten = staging
    bot = start(baseten, slack, db_url, tmp_path / "bot.log", OPERATOR_USER_IDS=OPS)
    try:
        parent = promotion_message(bot, baseten, slack, "RAMPING_UP", 25)
        controls = asks(parent)
        assert sorted(controls) == ["cancel_promotion", "force_roll_forward_promotion", "pause_promotion"]

        click(bot, slack, controls["pause_promotion"], name="card", channel="C1")
        card = answer(slack, "card")
        assert card["response_type"] == "ephemeral"
        shown = json.dumps(card["blocks"])
        assert "RAMPING_UP" in shown and "25%" in shown and "environment `staging`" in shown
        assert baseten.posts() == []  # the card changes nothing

        click(bot, slack, do_button(card), name="done", channel="C1")
        assert answer(slack, "done")["text"] == f"<@{OPS}> paused the promotion of `v4`: Baseten accepted it"
        (post,) = baseten.posts()
        assert post.path == CONTROLS + "pause_promotion" and post.body in ({}, None)
        line = slack.wait_for(lambda: [p for p in slack.posts() if "paused the promotion" in p["text"]])
        assert line[0]["thread_ts"] == slack.ts_of(parent)  # in the promotion's thread

        wait(lambda: [e for e in edits(slack) if "PAUSED" in e["text"]], what="the edit showing it paused")
        paused = [e for e in edits(slack) if "PAUSED" in e["text"]][-1]
        assert sorted(asks(paused)) == ["cancel_promotion", "force_roll_forward_promotion", "resume_promotion"]

        click(bot, slack, asks(paused)["resume_promotion"], name="card2", channel="C1")
        click(bot, slack, do_button(answer(slack, "card2")), name="done2", channel="C1")
        assert answer(slack, "done2")["text"] == f"<@{OPS}> resumed the promotion of `v4`: Baseten accepted it"
        assert [p.path for p in baseten.posts()] == [CONTROLS + "pause_promotion", CONTROLS + "resume_promotion"]

        baseten.set_promotion(MODEL, "staging", "SUCCEEDED", 100)
        wait(lambda: [e for e in edits(slack) if "SUCCEEDED" in e["text"]], what="the end")
        assert asks([e for e in edits(slack) if "SUCCEEDED" in e["text"]][-1]) == {}  # no controls once it ended
    finally:
        bot.stop()


def test_a_control_on_a_promotion_that_ended_meanwhile_changes_nothing(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten = staging
    bot = start(baseten, slack, db_url, tmp_path / "bot.log", OPERATOR_USER_IDS=OPS)
    try:
        cancel = asks(promotion_message(bot, baseten, slack, "RELEASING", 0))["cancel_promotion"]
        baseten.end_promotion(MODEL, "staging", promoted=True)  # it finished before anyone clicked
        click(bot, slack, cancel, name="late", channel="C1")
        late = answer(slack, "late")
        assert "No promotion is in progress in staging" in late["text"] and "Nothing was changed" in late["text"]
        assert buttons(late) == [] and baseten.posts() == []

        click(bot, slack, cancel, user="U0NOPE", name="nope", channel="C1")  # and not an operator: refused
        assert "Only the bot's operators may act" in answer(slack, "nope")["text"]
        assert baseten.posts() == []
    finally:
        bot.stop()


def test_without_operators_a_promotion_message_has_no_controls(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten = staging
    bot = start(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        assert asks(promotion_message(bot, baseten, slack, "RAMPING_UP", 25)) == {}
    finally:
        bot.stop()


@any_database  # what it shows is the bot reading Baseten again, not what it stores
def test_each_control_acts_only_on_the_promotion_its_card_showed(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """Cards for all four controls, drawn for v4's promotion: once v5 has replaced v4 as the candidate,
    none sends anything, each says so and offers a card for v5's; once that promotion has ended, those
    cards send nothing either, and offer nothing."""
    baseten = staging
    baseten.add_deployment(deployment("dep5new", MODEL, name="v5", status="ACTIVE"))
    bot = start(baseten, slack, db_url, tmp_path / "bot.log", OPERATOR_USER_IDS=OPS)
    try:
        parent = promotion_message(bot, baseten, slack, "RAMPING_UP", 25)
        cards = {}
        for verb, ask in asks(parent).items():  # pause, cancel, force roll forward
            click(bot, slack, ask, name=f"card-{verb}", channel="C1")
            cards[verb] = answer(slack, f"card-{verb}")
        baseten.set_promotion(MODEL, "staging", "PAUSED", 25)
        wait(lambda: [e for e in edits(slack) if "PAUSED" in e["text"]], what="the edit showing it paused")
        paused = [e for e in edits(slack) if "PAUSED" in e["text"]][-1]
        click(bot, slack, asks(paused)["resume_promotion"], name="card-resume", channel="C1")
        cards["resume_promotion"] = answer(slack, "card-resume")
        assert sorted(cards) == sorted(CONTROL_VERBS)

        baseten.start_promotion(MODEL, "staging", "dep5new", "PAUSED", 10)  # another candidate replaces v4
        fresh = {}
        for verb, card in cards.items():
            click(bot, slack, do_button(card), name=f"replaced-{verb}", channel="C1")
            said = answer(slack, f"replaced-{verb}")
            assert said["text"] == "Nothing was sent to Baseten: the promotion in staging is now of v5, not of v4."
            fresh[verb] = do_button(said)  # a fresh card, for v5's promotion
            assert json.loads(fresh[verb]["value"])["d"] == "dep5new", verb

        baseten.end_promotion(MODEL, "staging", promoted=False)  # it ends before anyone clicks
        for verb, button in fresh.items():
            click(bot, slack, button, name=f"ended-{verb}", channel="C1")
            said = answer(slack, f"ended-{verb}")
            assert (
                said["text"]
                == "Nothing was sent to Baseten: the promotion of v5 to staging has ended since this card was shown."
            )
            assert buttons(said) == []
        assert baseten.posts() == []
        assert not [p for p in slack.posts() if "promotion of" in p["text"] and "<@" in p["text"]]  # no lines
    finally:
        bot.stop()


def test_a_muted_end_still_ends_the_live_message_without_controls(
    staging: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten = staging
    bot = start(baseten, slack, db_url, tmp_path / "bot.log", OPERATOR_USER_IDS=OPS)
    try:
        parent = promotion_message(bot, baseten, slack, "RAMPING_UP", 25)
        assert asks(parent)
        post_command(bot, slack, f"mute {MODEL} env:staging 1h", channel="C1", name="mute")
        assert "Muted" in str(answer(slack, "mute")["text"])
        baseten.set_promotion(MODEL, "staging", "SUCCEEDED", 100)
        wait(lambda: [e for e in edits(slack) if "SUCCEEDED" in e["text"]], what="the live message ended")
        (ended,) = [e for e in edits(slack) if "SUCCEEDED" in e["text"]]
        assert ended["ts"] == slack.ts_of(parent) and asks(ended) == {}  # the end state, no controls
        bot.wait_cycles(3)
        assert posts(slack) == [parent]  # muted: no reply in its thread, nothing in the channel
    finally:
        bot.stop()
