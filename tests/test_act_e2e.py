"""Acting from Slack, end to end: the real `serve` process, signed commands and `block_actions`,
the fake Baseten recording (and checking against the published spec) every POST."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bot.app.db import make_sync_engine
from tests.conftest import MODEL, OLD, PROD, BotProcess, bot_env
from tests.fakes import TEAM, Canned, FakeBaseten, FakeSlack, deployment, sign, wait_until
from tests.test_slash_e2e import answer, post_command

OPS = "U0OPS"
USED = "This card was already used; nothing more was sent."
FAILED = "dep4fail"  # `v4`, a build that failed


def start(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path, name: str = "bot", **env: str
) -> BotProcess:
    settings = {"OPERATOR_USER_IDS": f"{OPS},S0ONCALL", **env}
    bot = BotProcess(bot_env(baseten, slack, db_url, **settings), tmp_path / f"{name}.log")
    bot.wait_healthy()
    return bot


@pytest.fixture
def ops_bot(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> Iterator[BotProcess]:
    baseten.add_deployment(deployment(FAILED, MODEL, name="v4", status="BUILD_FAILED", replicas=0))
    slack.usergroups["S0ONCALL"] = ["U0CAROL"]
    bot = start(baseten, slack, db_url, tmp_path)
    yield bot
    bot.stop()


def blocks_of(message: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = message.get("blocks") or []
    return list(json.loads(blocks) if isinstance(blocks, str) else blocks)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in blocks_of(message) if b["type"] == "actions" for e in b["elements"]]


def action_payload(
    button: dict[str, Any],
    *,
    user: str,
    name: str,
    message_ts: str = "1700000099.000001",
    channel: str = "C0GENERAL",
    action_ts: str = "1700000100.000001",
) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user},
        "api_app_id": "A0TEST",
        "channel": {"id": channel},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": True},
        "response_url": f"RESPONSE/{name}",
        "trigger_id": "1.2",
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": "b",
                "type": "button",
                "value": button["value"],
                "action_ts": action_ts,
            }
        ],
    }
    return "payload=" + urllib.parse.quote(json.dumps(payload))


def click(bot: BotProcess, slack: FakeSlack, button: dict[str, Any], *, user: str = OPS, name: str, **kw: str) -> None:
    body = action_payload(button, user=user, name=name, **kw).replace("RESPONSE", slack.url + "/response")
    assert httpx.post(bot.url + "/slack/events", content=body, headers=sign(body), timeout=10).status_code == 200


def card_for(bot: BotProcess, slack: FakeSlack, text: str, name: str, user: str = OPS) -> dict[str, Any]:
    ack = post_command(bot, slack, text, name=name, user=user)
    assert ack.status_code == 200 and not ack.content  # nothing in the ack: the card follows
    return answer(slack, name)


def do_button(card: dict[str, Any]) -> dict[str, Any]:
    (button,) = buttons(card)  # one button, and it does it
    assert button["action_id"].startswith("act_do_") and "confirm" in button
    return button


def rows(db_url: str) -> list[dict[str, Any]]:
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        found = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM actions ORDER BY id"))]
    engine.dispose()
    return found


def test_retry_asks_first_then_one_click_is_one_post_said_in_place_and_in_the_channel(
    ops_bot: BotProcess, slack: FakeSlack, baseten: FakeBaseten, db_url: str
) -> None:
    card = card_for(ops_bot, slack, f"retry {MODEL} v4", "card")
    assert card["response_type"] == "ephemeral"
    shown = json.dumps(blocks_of(card))
    assert "Retry" in shown and "BUILD_FAILED" in shown and "nothing changes until you click" in shown
    button = do_button(card)
    assert button["confirm"]["confirm"]["text"] == "Retry"
    assert baseten.posts() == []  # nothing changed before the click

    click(ops_bot, slack, button, name="done")
    done = answer(slack, "done")
    assert done["replace_original"] is True
    assert done["text"] == f"<@{OPS}> retried `v4`: Baseten accepted it"
    (post,) = baseten.posts()
    assert post.path == f"/v1/models/{MODEL}/deployments/{FAILED}/retry" and post.body == {}
    line = slack.wait_for(lambda: [p for p in slack.posts() if "retried" in p["text"]])
    assert line[0]["text"] == f"<@{OPS}> retried `v4`: Baseten accepted it" and line[0]["channel"] == "C0GENERAL"
    (row,) = rows(db_url)
    assert (row["user_id"], row["team_id"], row["verb"], row["model_id"], row["deployment_id"]) == (
        OPS,
        TEAM,
        "retry",
        MODEL,
        FAILED,
    )
    assert row["status_code"] == 200 and row["outcome"] == "accepted" and row["finished_at"] is not None
    assert '"retried": true' in row["answer"]
    assert f"action retry on model {MODEL} deployment {FAILED}" in ops_bot.output() and OPS in ops_bot.output()


def test_a_double_delivery_makes_one_request(ops_bot: BotProcess, slack: FakeSlack, baseten: FakeBaseten) -> None:
    button = do_button(card_for(ops_bot, slack, f"retry {MODEL} v4", "card"))
    body = action_payload(button, user=OPS, name="twice").replace("RESPONSE", slack.url + "/response")
    headers = sign(body)
    sent = [
        threading.Thread(
            target=httpx.post, args=(ops_bot.url + "/slack/events",), kwargs={"content": body, "headers": headers}
        )
        for _ in range(2)
    ]
    for t in sent:
        t.start()
    for t in sent:
        t.join()
    wait_until(lambda: "ignored a repeat of retry" in ops_bot.output(), what="the second delivery handled")
    assert_once_and_the_repeat_answered(slack, "twice")
    assert len(baseten.posts("/retry")) == 1


def assert_once_and_the_repeat_answered(slack: FakeSlack, name: str) -> None:
    """The first delivery's outcome replaces the card; the other is told, beside it, that nothing more was sent."""
    wait_until(lambda: len(slack.responses(name)) == 2, what="both deliveries answered")
    done, repeat = sorted(slack.responses(name), key=lambda r: r["text"] == USED)
    assert done["text"] == f"<@{OPS}> retried `v4`: Baseten accepted it" and done["replace_original"] is True
    assert repeat["text"] == USED and repeat["replace_original"] is False


def test_a_double_delivery_to_two_replicas_makes_one_request(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    baseten.add_deployment(deployment(FAILED, MODEL, name="v4", status="BUILD_FAILED", replicas=0))
    first = start(baseten, slack, db_url, tmp_path, "first")
    second = start(baseten, slack, db_url, tmp_path, "second")
    try:
        button = do_button(card_for(first, slack, f"retry {MODEL} v4", "card"))
        body = action_payload(button, user=OPS, name="both").replace("RESPONSE", slack.url + "/response")
        headers = sign(body)
        sent = [
            threading.Thread(
                target=httpx.post, args=(b.url + "/slack/events",), kwargs={"content": body, "headers": headers}
            )
            for b in (first, second)
        ]
        for t in sent:
            t.start()
        for t in sent:
            t.join()
        logs = lambda: first.output() + second.output()  # noqa: E731
        wait_until(lambda: "ignored a repeat of retry" in logs(), what="the other replica handled it", timeout=30)
        assert_once_and_the_repeat_answered(slack, "both")
        assert len(baseten.posts("/retry")) == 1
        assert logs().count("action retry on model") == 1
    finally:
        first.stop()
        second.stop()


@pytest.mark.parametrize(
    ("canned", "says"),
    [
        (
            Canned(403, {"error": "API key lacks permission"}),
            "Baseten refused it (403: API key lacks permission): the bot's API key may not do this",
        ),
        (
            Canned(429, {"error": "Too many retries", "retry_after": 30}),
            "Baseten refused it (429, too many of these a minute: Too many retries); try again in 30s",
        ),
    ],
)
def test_baseten_refusals_are_shown_as_given_and_never_retried(
    ops_bot: BotProcess, slack: FakeSlack, baseten: FakeBaseten, db_url: str, canned: Canned, says: str
) -> None:
    button = do_button(card_for(ops_bot, slack, f"retry {MODEL} v4", "card"))
    baseten.script(f"/v1/models/{MODEL}/deployments/{FAILED}/retry", canned)
    click(ops_bot, slack, button, name="done")
    done = answer(slack, "done")
    assert done["text"] == f"<@{OPS}> tried to retry `v4`: {says}"
    line = slack.wait_for(lambda: [p for p in slack.posts() if "tried to retry" in p["text"]])
    assert says in line[0]["text"]
    assert len(baseten.posts()) == 1  # shown, not retried
    (row,) = rows(db_url)
    assert row["status_code"] == canned.status and row["outcome"] == "refused" and says in row["reason"]


def test_retried_false_comes_with_baseten_reason(ops_bot: BotProcess, slack: FakeSlack, baseten: FakeBaseten) -> None:
    card = card_for(ops_bot, slack, f"retry {MODEL} {PROD}", "card")  # an ACTIVE one: the card warns
    assert "is not what usually fits" in json.dumps(blocks_of(card))
    click(ops_bot, slack, do_button(card), name="done")
    done = answer(slack, "done")
    assert done["text"] == (
        f"<@{OPS}> tried to retry `v3`: Baseten did not retry it: "
        "Deployment is ACTIVE; only a failed deployment can be retried"
    )
    assert len(baseten.posts()) == 1


def test_non_operators_are_refused_typed_or_clicked_and_baseten_is_not_called(
    ops_bot: BotProcess, slack: FakeSlack, baseten: FakeBaseten
) -> None:
    button = do_button(card_for(ops_bot, slack, f"deactivate {MODEL} {PROD}", "card"))
    asked = baseten.count()
    ack = post_command(ops_bot, slack, f"deactivate {MODEL} {PROD}", name="eve", user="U0EVE")
    refused = ack.json() if ack.content else answer(slack, "eve")  # after the ack while the group is read
    assert refused["response_type"] == "ephemeral" and "Only the bot's operators" in refused["text"]
    click(ops_bot, slack, button, user="U0EVE", name="eveclick")
    said = answer(slack, "eveclick")
    assert "Only the bot's operators" in said["text"] and said["response_type"] == "ephemeral"
    assert said.get("replace_original") is False  # the operator's card, if it were hers, stays
    assert baseten.count() == asked and baseten.posts() == []
    assert ops_bot.output().count("refused deactivate from U0EVE: not in OPERATOR_USER_IDS") == 2


def test_a_member_of_an_operator_group_may_act(ops_bot: BotProcess, slack: FakeSlack, baseten: FakeBaseten) -> None:
    card = card_for(ops_bot, slack, f"activate {MODEL} v2", "carol", user="U0CAROL")
    click(ops_bot, slack, do_button(card), user="U0CAROL", name="done")
    assert answer(slack, "done")["text"] == "<@U0CAROL> activated `v2`: Baseten accepted it"
    assert [p.path for p in baseten.posts()] == [f"/v1/models/{MODEL}/deployments/{OLD}/activate"]


def test_deactivate_and_promote_to_production_and_to_an_environment_found_as_status_finds_it(
    ops_bot: BotProcess, slack: FakeSlack, baseten: FakeBaseten
) -> None:
    baseten.add_environment(MODEL, "staging", current=OLD)
    for verb in ("promote", "rollback"):  # a name the model lacks: its environments, and no card
        unknown = card_for(ops_bot, slack, f"{verb} {MODEL} {'v4 ' if verb == 'promote' else ''}env:qa", f"qa-{verb}")
        assert "has no environment `qa`. Its environments: `production`, `staging`." in unknown["text"]
        assert buttons(unknown) == []
    for i, (text, done) in enumerate(
        [
            (f"deactivate {MODEL} v3", f"<@{OPS}> deactivated `v3`"),
            (f"promote {MODEL} v2", f"<@{OPS}> promoted `v2`"),
            (f"promote {MODEL} v4 env:STAGING", f"<@{OPS}> promoted `v4`"),  # as `status` finds it: staging
        ]
    ):
        card = card_for(ops_bot, slack, text, f"card{i}")
        click(ops_bot, slack, do_button(card), name=f"done{i}", message_ts=f"1700000099.00000{i}")
        assert answer(slack, f"done{i}")["text"].startswith(done + ": Baseten accepted it")
    paths = [(p.path, p.body) for p in baseten.posts()]
    assert paths == [
        (f"/v1/models/{MODEL}/deployments/{PROD}/deactivate", {}),
        (f"/v1/models/{MODEL}/deployments/{OLD}/promote", {}),
        (f"/v1/models/{MODEL}/environments/staging/promote", {"deployment_id": FAILED}),
    ]


def test_rollback_promotes_what_was_production_before_the_promotion_the_bot_saw(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = start(baseten, slack, db_url, tmp_path, POLL_INTERVAL_SECONDS="1")
    try:
        never = card_for(bot, slack, f"rollback {MODEL}", "never")
        assert "never saw a promotion" in never["text"] and not buttons(never)
        post_command(bot, slack, f"subscribe {MODEL}", name="sub")
        answer(slack, "sub")
        baseten.promote(MODEL, OLD)  # v2 becomes production, replacing v3
        slack.wait_for(lambda: [p for p in slack.posts() if "promoted" in p["text"]], timeout=30)
        card = card_for(bot, slack, f"rollback {MODEL}", "card")
        shown = json.dumps(blocks_of(card))
        assert "`v3`" in shown and "before `v2` was promoted" in shown
        click(bot, slack, do_button(card), name="done")
        assert answer(slack, "done")["text"] == f"<@{OPS}> rolled back to `v3`: Baseten accepted it"
        assert [p.path for p in baseten.posts()] == [f"/v1/models/{MODEL}/deployments/{PROD}/promote"]
    finally:
        bot.stop()


def test_roll_back_from_a_failure_notice_acts_once_in_its_thread_and_never_rolls_back_the_rollback(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """v2 is promoted over v3 and fails; its notice's Roll back puts v3 back, said in v2's thread. The
    bot then sees that rollback as a promotion too: the same button, clicked again, must not offer
    to promote v2, the failing one, back; nor may a card shown before the rollback act after it."""
    bot = start(baseten, slack, db_url, tmp_path, POLL_INTERVAL_SECONDS="1")
    try:
        post_command(bot, slack, f"subscribe {MODEL} production", name="sub")
        answer(slack, "sub")
        bot.wait_cycles(2)
        baseten.promote(MODEL, OLD)  # v2 becomes production, replacing v3
        slack.wait_for(lambda: [p for p in slack.posts() if "promoted" in p["text"]], timeout=30)
        baseten.set_status(MODEL, OLD, "UNHEALTHY")
        notice = slack.wait_for(lambda: [p for p in slack.posts() if "UNHEALTHY" in p["text"]], timeout=30)[0]
        (ask,) = [b for b in buttons(notice) if b["action_id"].startswith("act_")]
        assert ask["action_id"] == "act_ask_rollback"
        click(bot, slack, ask, name="asked")
        card = answer(slack, "asked")
        assert "`v3`" in json.dumps(blocks_of(card)) and "before `v2` was promoted" in json.dumps(blocks_of(card))
        click(bot, slack, ask, name="asked-again")  # a second card, shown before the rollback
        stale_card = answer(slack, "asked-again")
        click(bot, slack, do_button(card), name="done")
        assert answer(slack, "done")["text"] == f"<@{OPS}> rolled back to `v3`: Baseten accepted it"
        line = slack.wait_for(lambda: [p for p in slack.posts() if "rolled back" in p["text"]])[0]
        assert line["thread_ts"] == notice.get("thread_ts", slack.ts_of(notice))  # v2's thread, where it failed

        slack.wait_for(lambda: [p for p in slack.posts() if "v3: promoted" in p["text"]], 30)  # the rollback, seen
        click(bot, slack, ask, name="again")  # the old notice's button, after the rollback was seen
        again = answer(slack, "again")
        assert "will not guess what to roll back to" in again["text"] and not buttons(again)
        click(bot, slack, do_button(stale_card), name="stale", message_ts="1700000099.000002")
        stale = answer(slack, "stale")
        assert (
            stale["text"]
            == "Nothing was sent to Baseten: production changed since this card was shown: v3 is current there now."
        )
        assert stale["replace_original"] is True and buttons(stale) == []  # and no fresh card offers v2 back
        typed = card_for(bot, slack, f"rollback {MODEL}", "typed")  # typed, after the rollback: not v2 either
        assert "was a rollback to v3, which replaced v2" in typed["text"] and not buttons(typed)
        assert [p.path for p in baseten.posts()] == [f"/v1/models/{MODEL}/deployments/{PROD}/promote"]
        assert [r["outcome"] for r in rows(db_url)] == ["accepted", "stale"]
    finally:
        bot.stop()


def test_a_failure_notice_carries_retry_which_asks_then_acts_and_answers_in_the_thread(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = start(baseten, slack, db_url, tmp_path, POLL_INTERVAL_SECONDS="1")
    try:
        post_command(bot, slack, f"subscribe {MODEL}", name="sub")
        answer(slack, "sub")
        baseten.set_status(MODEL, OLD, "DEPLOY_FAILED")
        notice = slack.wait_for(lambda: [p for p in slack.posts() if "DEPLOY_FAILED" in p["text"]], timeout=30)[0]
        (ask,) = [b for b in buttons(notice) if b["action_id"].startswith("act_")]
        assert ask["action_id"] == "act_ask_retry" and "confirm" not in ask  # it changes nothing itself
        ts = "1700000000.000001"  # the fake's first ts: the notice's, the first message the bot posted
        click(bot, slack, ask, name="asked", message_ts=ts)
        card = answer(slack, "asked")
        assert card["response_type"] == "ephemeral" and card["replace_original"] is False
        assert "DEPLOY_FAILED" in json.dumps(blocks_of(card)) and baseten.posts() == []
        click(bot, slack, do_button(card), name="done")
        assert answer(slack, "done")["text"] == f"<@{OPS}> retried `v2`: Baseten accepted it"
        line = slack.wait_for(lambda: [p for p in slack.posts() if "retried" in p["text"]])[0]
        assert line["thread_ts"] == ts  # in the deployment's thread
    finally:
        bot.stop()


def test_status_cards_carry_the_buttons_that_fit_and_each_brings_up_its_card(
    ops_bot: BotProcess, slack: FakeSlack, baseten: FakeBaseten
) -> None:
    for i, (target, label, verb) in enumerate(
        [("v2", "Activate…", "activate"), ("v3", "Deactivate…", "deactivate"), ("v4", "Retry…", "retry")]
    ):
        card = card_for(ops_bot, slack, f"status {MODEL} {target}", f"s{i}")
        (ask,) = [b for b in buttons(card) if b["action_id"].startswith("act_")]
        assert ask["text"]["text"] == label and "confirm" not in ask, target
        click(ops_bot, slack, ask, name=f"ask{i}")
        assert do_button(answer(slack, f"ask{i}"))["action_id"] == f"act_do_{verb}"
    baseten.set_status(MODEL, PROD, "UNHEALTHY")  # failing production: Roll back
    card = card_for(ops_bot, slack, f"status {MODEL} production", "failing")
    (ask,) = [b for b in buttons(card) if b["action_id"].startswith("act_")]
    assert ask["action_id"] == "act_ask_rollback"
    click(ops_bot, slack, ask, name="rollback")
    assert "never saw a promotion" in answer(slack, "rollback")["text"]
    assert baseten.posts() == []  # asking changes nothing


def test_without_operators_nobody_acts_and_no_buttons_show(
    bot: BotProcess, slack: FakeSlack, baseten: FakeBaseten
) -> None:
    refused = post_command(bot, slack, f"retry {MODEL} {PROD}", name="r").json()
    assert "OPERATOR_USER_IDS is not set" in refused["text"]
    card = card_for(bot, slack, f"status {MODEL} v2", "s")
    assert [b["action_id"] for b in buttons(card)] == ["open_dashboard", "share_card"]
    assert baseten.posts() == []
    assert "refused retry from U0ALICE: OPERATOR_USER_IDS is not set" in bot.output()


def test_an_operator_stops_a_training_job_from_slack_with_one_post_and_its_end_is_heard(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """Issue 23: `stop training:PROJECT JOB` under every rule of acting: a card first, operators only, one
    click one POST to the job's own stop, recorded; then the poller hears the job end, with its run."""
    from tests.fakes_runs import training_job

    baseten.add_training_project("tp1abc", "ft", [training_job("tj1run", "tp1abc", name="run-7")])
    bot = start(baseten, slack, db_url, tmp_path, POLL_INTERVAL_SECONDS="1", HOT_POLL_SECONDS="1")
    try:
        subscribed = card_for(bot, slack, "subscribe training:ft", "sub")
        assert subscribed["text"].startswith("Subscribed this channel to ft"), subscribed["text"]
        wait_until(lambda: baseten.count("/v1/training_projects/tp1abc/jobs") >= 2, what="the baseline poll")

        status = card_for(bot, slack, "status training:ft run-7", "status")  # a running job's card carries Stop
        assert [b["action_id"] for b in buttons(status) if b["action_id"].startswith("act_")] == ["act_ask_stop"]
        refused = card_for(bot, slack, "stop training:ft run-7", "nope", user="U0STRANGER")
        assert "Only the bot's operators may act" in refused["text"] and not buttons(refused)
        card = card_for(bot, slack, "stop training:ft run-7", "card")
        shown = json.dumps(blocks_of(card))
        assert "TRAINING_JOB_RUNNING" in shown and "Baseten will stop the training job run-7" in shown
        button = do_button(card)
        assert button["confirm"]["confirm"]["text"] == "Stop" and button.get("style") == "danger"
        assert baseten.posts() == []  # nothing changed before the click

        click(bot, slack, button, name="done")
        done = answer(slack, "done")
        assert done["text"] == f"<@{OPS}> stopped `run-7`: Baseten accepted it; the job is `TRAINING_JOB_STOPPED`"
        (post,) = baseten.posts()
        assert post.path == "/v1/training_projects/tp1abc/jobs/tj1run/stop" and post.body == {}
        (row,) = rows(db_url)
        assert (row["verb"], row["model_id"], row["deployment_id"], row["outcome"]) == (
            "stop",
            "training:tp1abc",
            "tj1run",
            "accepted",
        )
        ended = slack.wait_for(
            lambda: [p for p in slack.posts() if p["text"] == "ft / run-7: TRAINING_JOB_RUNNING → TRAINING_JOB_STOPPED"]
        )
        assert "Created to end" in json.dumps(blocks_of(ended[0])), ended[0]

        click(bot, slack, button, name="again")  # the same card once more: nothing more is sent
        assert answer(slack, "again")["text"] == USED and len(baseten.posts()) == 1
    finally:
        bot.stop()
