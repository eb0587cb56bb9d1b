"""Scale to zero from Slack, end to end (issue 25): the real `serve` process fed signed commands and
`block_actions`, the fake Slack recording every answer and the fake Baseten every request (checked
against the published spec). One operator's confirmed click is one PATCH of `min_replica: 0`; anyone
else is refused and nothing is sent; a card replayed, or drawn before the minimum changed, sends nothing
and says why."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.actions import buttons as bot_buttons
from tests.conftest import MODEL, MODEL_NAME, PROD, BotProcess, any_database
from tests.fakes import FakeBaseten, FakeSlack
from tests.test_act_e2e import OPS, USED, blocks_of, buttons, card_for, click, do_button, rows, start
from tests.test_slash_e2e import answer

pytestmark = any_database
PATCHED = f"/v1/models/{MODEL}/deployments/{PROD}/autoscaling_settings"
NOTHING = "Nothing was sent to Baseten: "
STRANGER = "U0STRANGER"


def kept_up(baseten: FakeBaseten, min_replica: int) -> None:
    """v3 (production, ACTIVE, two replicas up) with this minimum of replicas."""
    with baseten.lock:
        settings = baseten.deployments[MODEL][PROD]["autoscaling_settings"]
        settings["min_replica"] = min_replica
        settings["max_replica"] = max(settings["max_replica"], min_replica)


def running(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> BotProcess:
    """The bot with operators U0OPS and the on-call group S0ONCALL (U0CAROL), v3 kept at 2 replicas."""
    kept_up(baseten, 2)
    slack.usergroups["S0ONCALL"] = ["U0CAROL"]
    return start(baseten, slack, db_url, tmp_path)


def min_replica(baseten: FakeBaseten) -> int:
    with baseten.lock:
        return int(baseten.deployments[MODEL][PROD]["autoscaling_settings"]["min_replica"])


def asked(bot: BotProcess, slack: FakeSlack, ask: dict[str, Any], name: str, user: str = OPS) -> dict[str, Any]:
    """Click an ask button: the answer, only for the clicker."""
    click(bot, slack, ask, user=user, name=name)
    return answer(slack, name)


def idle_button() -> dict[str, Any]:
    """The button a later idle notice carries (buttons.scale_to_zero_button), as that notice saw v3."""
    button = bot_buttons.scale_to_zero_button(
        MODEL, PROD, status="ACTIVE", min_replica=2, model_name=MODEL_NAME, deployment_name="v3"
    )
    assert button is not None
    return button


def test_an_operators_confirmed_click_is_one_patch_said_in_place_and_in_the_channel(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = running(baseten, slack, db_url, tmp_path)
    try:
        status = card_for(bot, slack, f"status {MODEL} v3", "status")
        acts = {b["action_id"]: b for b in buttons(status) if b["action_id"].startswith("act_")}
        assert list(acts) == ["act_ask_deactivate", "act_ask_scale_to_zero"]
        assert acts["act_ask_scale_to_zero"]["text"]["text"] == "Scale to zero…"
        spare = card_for(bot, slack, f"status {MODEL} v2", "spare")  # INACTIVE, minimum 0: not offered
        assert "act_ask_scale_to_zero" not in json.dumps(blocks_of(spare))

        card = asked(bot, slack, acts["act_ask_scale_to_zero"], "card")
        assert card["response_type"] == "ephemeral" and card["replace_original"] is False
        shown = json.dumps(blocks_of(card), ensure_ascii=False)
        assert "`ACTIVE` · production · min replicas `2`" in shown
        assert "Baseten will set the minimum replicas of v3 to 0" in shown
        button = do_button(card)
        assert button["action_id"] == "act_do_scale_to_zero"
        assert button["confirm"]["confirm"]["text"] == "Scale to zero"
        assert baseten.changes() == []  # nothing changed before the confirming click

        click(bot, slack, button, name="done")
        done = answer(slack, "done")
        said = f"<@{OPS}> set min replicas to 0 on `v3`: Baseten accepted it: Autoscaling settings updated"
        assert done["text"] == said and done["replace_original"] is True
        (patch,) = baseten.changes()  # exactly one request that changes anything: this PATCH
        assert (patch.method, patch.path, patch.body) == ("PATCH", PATCHED, {"min_replica": 0})
        assert min_replica(baseten) == 0
        line = slack.wait_for(lambda: [p for p in slack.posts() if "min replicas to 0" in p["text"]])
        assert line[0]["text"] == said and line[0]["channel"] == "C0GENERAL"
        (row,) = rows(db_url)
        assert (row["user_id"], row["verb"], row["model_id"], row["deployment_id"], row["outcome"]) == (
            OPS,
            "scale_to_zero",
            MODEL,
            PROD,
            "accepted",
        )
        assert row["status_code"] == 200 and '"status": "ACCEPTED"' in row["answer"]
        assert f"action scale_to_zero on model {MODEL} deployment {PROD}" in bot.output()

        after = card_for(bot, slack, f"status {MODEL} v3", "after")  # scaled down: no longer offered
        assert [b["action_id"] for b in buttons(after) if b["action_id"].startswith("act_")] == ["act_ask_deactivate"]
    finally:
        bot.stop()


def test_anyone_but_an_operator_is_refused_and_nothing_is_sent(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = running(baseten, slack, db_url, tmp_path)
    try:
        refused = asked(bot, slack, idle_button(), "ask", user=STRANGER)  # the button itself
        assert "Only the bot's operators may act" in refused["text"] and not buttons(refused)

        card = asked(bot, slack, idle_button(), "card")  # an operator's card, clicked by someone else
        click(bot, slack, do_button(card), user=STRANGER, name="do")
        said = answer(slack, "do")
        assert "Only the bot's operators may act" in said["text"] and said["replace_original"] is False

        assert baseten.changes() == [] and min_replica(baseten) == 2
        assert rows(db_url) == []  # refused before the card is claimed: the operator's card still works
        assert f"refused scale_to_zero from {STRANGER}: not in OPERATOR_USER_IDS" in bot.output()
        click(bot, slack, do_button(card), user="U0CAROL", name="carol")  # on call: an operator through the group
        assert answer(slack, "carol")["text"].startswith(
            "<@U0CAROL> set min replicas to 0 on `v3`: Baseten accepted it"
        )
        assert len(baseten.patches()) == 1
    finally:
        bot.stop()


def test_a_replayed_or_stale_card_sends_nothing_and_says_why(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = running(baseten, slack, db_url, tmp_path)
    try:
        first, second, third = (do_button(asked(bot, slack, idle_button(), f"card{i}")) for i in range(3))
        click(bot, slack, first, name="first")
        assert answer(slack, "first")["text"].endswith("Baseten accepted it: Autoscaling settings updated")

        click(bot, slack, first, name="replayed", action_ts="1700000160.000001")  # the same card again
        replayed = answer(slack, "replayed")
        assert replayed["text"] == USED and replayed["replace_original"] is False

        click(bot, slack, second, name="stale")  # drawn at 2, which another card made 0
        stale = answer(slack, "stale")
        assert stale["text"] == NOTHING + "v3 had min replicas 2 when this card was shown and has 0 now."
        assert stale["replace_original"] is True and not buttons(stale)  # nothing left to scale to zero
        assert "nothing to scale to zero" in json.dumps(blocks_of(stale))

        again = asked(bot, slack, idle_button(), "again")  # the old notice's button, now: no card
        assert "The minimum replicas of v3 of llama-3-8b is 0 already" in again["text"] and not buttons(again)

        kept_up(baseten, 3)  # someone sets it to 3 on Baseten: the card drawn at 2 acts on nothing
        click(bot, slack, third, name="changed")
        changed = answer(slack, "changed")
        assert changed["text"] == NOTHING + "v3 had min replicas 2 when this card was shown and has 3 now."
        fresh = do_button(changed)  # a fresh card, as v3 is now
        assert json.loads(fresh["value"])["n"] == 3 and "min replicas `3`" in json.dumps(blocks_of(changed))

        assert [(p.method, p.path) for p in baseten.changes()] == [("PATCH", PATCHED)]  # one, from the first card
        assert [r["outcome"] for r in rows(db_url)] == ["accepted", "stale", "stale"]
        assert min_replica(baseten) == 3
        assert bot.output().count("ignored a repeat of scale_to_zero") == 1
    finally:
        bot.stop()
