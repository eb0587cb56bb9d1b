"""Freezes end to end (issue 27): the real `serve` process, signed commands and clicks, the fake
Baseten counting every POST."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.digests import DAYS
from tests.conftest import MODEL, OLD, BotProcess, any_database
from tests.fakes import FakeBaseten, FakeSlack, deployment, wait_until
from tests.test_act_e2e import blocks_of, buttons, card_for, click, do_button, rows, start
from tests.test_faults_e2e import fast_bot
from tests.test_slash_e2e import answer, post_command

OPS = "U0OPS"  # an operator, not an admin
ADMIN = "U0ADMIN"  # an operator and an admin

pytestmark = any_database


@pytest.fixture
def admin_bot(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[BotProcess]:
    bot = start(baseten, slack, db_url, tmp_path, OPERATOR_USER_IDS=f"{OPS},{ADMIN}", ADMIN_USER_IDS=ADMIN)
    yield bot
    bot.stop()


def said(message: dict[str, object]) -> str:
    return f"{message.get('text')} {json.dumps(blocks_of(message))}"


def test_a_freeze_refuses_promote_with_who_and_why_and_an_admins_override_acts_and_is_announced(
    admin_bot: BotProcess, slack: FakeSlack, baseten: FakeBaseten, db_url: str
) -> None:
    early = do_button(card_for(admin_bot, slack, f"promote {MODEL} v2", "early"))  # drawn before the freeze

    ack = post_command(admin_bot, slack, f'freeze {MODEL} env:production 2h "release week"', name="no", user=OPS)
    assert "Only the bot's admins" in ack.text  # freeze is an admin's command when ADMIN_USER_IDS is set
    post_command(admin_bot, slack, f'freeze {MODEL} env:production 2h "release week"', name="fz", user=ADMIN)
    froze = answer(slack, "fz")
    assert froze["response_type"] == "in_channel"
    assert f"frozen by <@{ADMIN}>" in said(froze) and "release week" in said(froze)

    refused = card_for(admin_bot, slack, f"promote {MODEL} v2", "refused")
    assert f"is frozen by <@{ADMIN}> until <!date^" in said(refused) and "release week" in said(refused)
    assert "--override" in said(refused) and buttons(refused) == []
    click(admin_bot, slack, early, name="early-click")  # a card drawn before the freeze: nothing sent
    assert "release week" in said(answer(slack, "early-click"))
    not_admin = card_for(admin_bot, slack, f"promote {MODEL} v2 --override", "not-admin")
    assert "Only the bot's admins (ADMIN_USER_IDS) may act through a freeze" in said(not_admin)
    assert baseten.posts() == []
    assert [r["outcome"] for r in rows(db_url)] == ["frozen"]

    card = card_for(admin_bot, slack, f'promote {MODEL} v2 "hotfix" --override', "override", user=ADMIN)
    assert "Overriding a freeze" in said(card)
    click(admin_bot, slack, do_button(card), user=ADMIN, name="done", message_ts="1700000099.000002")
    assert answer(slack, "done")["text"].startswith(f"<@{ADMIN}> promoted `v2`: Baseten accepted it")
    (post,) = baseten.posts()
    assert post.path == f"/v1/models/{MODEL}/deployments/{OLD}/promote"
    line = slack.wait_for(lambda: [p for p in slack.posts() if "overriding a freeze" in p["text"]])
    assert line[0]["channel"] == "C0GENERAL" and "thread_ts" not in line[0]
    assert "release week" in json.dumps(line[0]["blocks"])
    override = rows(db_url)[-1]
    assert override["user_id"] == ADMIN and override["outcome"] == "accepted"
    assert "release week" in override["override"] and ADMIN in override["override"]


def test_freezes_lists_and_cards_show_an_active_freeze_and_unfreeze_lifts_it(
    admin_bot: BotProcess, slack: FakeSlack
) -> None:
    today = datetime.now(UTC).weekday()  # a week less a minute, that minute three days away from now
    week = f"{DAYS[(today + 4) % 7]} 00:00 - {DAYS[(today + 3) % 7]} 23:59"
    post_command(admin_bot, slack, f'freeze all weekly {week} "always, nearly"', name="wk", user=ADMIN)
    assert "always, nearly" in said(answer(slack, "wk"))
    post_command(admin_bot, slack, "freezes", name="fl")
    listed = said(answer(slack, "fl"))
    assert "every model in every environment" in listed and f"{week} UTC" in listed
    post_command(admin_bot, slack, "list", name="ls")
    assert "is frozen by" in said(answer(slack, "ls"))
    post_command(admin_bot, slack, f"status {MODEL} production", name="st")
    assert "always, nearly" in said(answer(slack, "st"))

    post_command(admin_bot, slack, "unfreeze all", name="uf", user=ADMIN)
    assert "lifted the freeze" in said(answer(slack, "uf"))
    post_command(admin_bot, slack, f"status {MODEL} production", name="st2")
    assert "always, nearly" not in said(answer(slack, "st2"))
    card = card_for(admin_bot, slack, f"promote {MODEL} v2", "after")
    assert do_button(card)["action_id"] == "act_do_promote"


def test_a_promotion_and_a_new_deployment_seen_during_a_freeze_are_flagged_and_not_after_it(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = fast_bot(baseten, slack, db_url, tmp_path / "fast.log")
    try:
        post_command(bot, slack, f"subscribe {MODEL} --on all", channel="C1", name="sub")
        assert answer(slack, "sub")["response_type"] == "in_channel"
        post_command(bot, slack, f'freeze {MODEL} env:production 1h "launch day"', channel="C1", name="fz")
        answer(slack, "fz")

        baseten.promote(MODEL, OLD)  # done in Baseten's dashboard, not through the bot
        promoted = wait_until(lambda: _post(slack, "promoted → production"), 30, what="the promotion's notice")
        assert "Seen during the freeze of *llama-3-8b in production*" in json.dumps(promoted["blocks"])
        assert "launch day" in json.dumps(promoted["blocks"])
        baseten.add_deployment(deployment("dep5new", MODEL, name="v5", status="BUILDING", replicas=0))
        new = wait_until(lambda: _post(slack, "v5: new deployment"), 30, what="the new deployment's notice")
        assert "launch day" in json.dumps(new["blocks"])  # a new deployment: a freeze of any environment

        post_command(bot, slack, "unfreeze", channel="C1", name="uf")
        assert "No freeze of every model" in said(answer(slack, "uf"))  # `all` is not this model's freeze
        post_command(bot, slack, f"unfreeze {MODEL}", channel="C1", name="uf2")
        assert "lifted the freeze" in said(answer(slack, "uf2"))
        baseten.promote(MODEL, "dep1prod")
        back = wait_until(lambda: _post(slack, "v3: promoted"), 30, what="the promotion after the freeze")
        assert "freeze" not in json.dumps(back["blocks"])
    finally:
        bot.stop()


def _post(slack: FakeSlack, text: str) -> dict[str, object] | None:
    return next((p for p in slack.posts() if p["channel"] == "C1" and text in p["text"]), None)


def test_a_pair_listed_in_approval_required_becomes_a_request_and_others_act_at_once(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten.add_environment(MODEL, "staging", current=OLD)
    bot = start(baseten, slack, db_url, tmp_path, APPROVAL_REQUIRED="promote:production,stop:*")
    try:
        card = card_for(bot, slack, f'promote {MODEL} v2 "fixes OOM"', "prod")
        click(bot, slack, do_button(card), name="prod-click")
        assert "Sent for approval (request #1)" in said(answer(slack, "prod-click"))
        assert baseten.posts() == []
        assert [(r["outcome"], r["verb"], r["approval_id"]) for r in rows(db_url)] == [("requested", "promote", 1)]

        card = card_for(bot, slack, f"promote {MODEL} dev env:staging", "staging")
        click(bot, slack, do_button(card), name="staging-click", message_ts="1700000099.000002")
        assert "Baseten accepted it" in said(answer(slack, "staging-click"))
        assert [p.path for p in baseten.posts()] == [f"/v1/models/{MODEL}/environments/staging/promote"]
    finally:
        bot.stop()


def test_a_freeze_names_its_environment_as_baseten_does_and_holds_the_deployments_current_there(
    admin_bot: BotProcess, slack: FakeSlack, baseten: FakeBaseten, db_url: str
) -> None:
    baseten.add_environment(MODEL, "staging", current=OLD)
    baseten.set_status(MODEL, OLD, "INACTIVE", environment="staging")  # v2: staging's current, inactive
    post_command(admin_bot, slack, f"freeze {MODEL} env:stagin 2h", name="typo", user=ADMIN)
    typo = said(answer(slack, "typo"))
    assert "has no environment `stagin`" in typo and "`staging`" in typo and "Nothing was frozen" in typo
    post_command(admin_bot, slack, "freezes", name="none")
    assert "No freezes are set" in said(answer(slack, "none"))

    post_command(admin_bot, slack, f'freeze {MODEL} env:STAGING 2h "qa week"', name="fz", user=ADMIN)
    assert "llama-3-8b in staging" in said(answer(slack, "fz"))  # as Baseten spells it
    refused = said(card_for(admin_bot, slack, f"activate {MODEL} v2", "activate"))  # staging's deployment
    assert "qa week" in refused and "Activate is refused during a freeze" in refused
    post_command(admin_bot, slack, f"freeze {MODEL} env:production 2h", name="prod", user=ADMIN)
    answer(slack, "prod")
    dev = card_for(admin_bot, slack, f"activate {MODEL} dev", "dev")  # in no environment: not production's
    assert do_button(dev)["action_id"] == "act_do_activate"
    post_command(admin_bot, slack, f"unfreeze {MODEL} env:Staging", name="uf", user=ADMIN)
    assert "lifted the freeze of *llama-3-8b in staging*" in said(answer(slack, "uf"))
    assert do_button(card_for(admin_bot, slack, f"activate {MODEL} v2", "after"))["action_id"] == "act_do_activate"
    assert baseten.posts() == [] and rows(db_url) == []
