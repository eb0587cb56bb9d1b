"""A confirmation card acts at most once, and only on what it showed, end to end: the real `serve`
process; signed clicks, some replayed with Slack's timestamp minutes old (its signature check accepts
300 s); the fake Baseten changing under a card; a clock the test moves (BOT_TEST_CLOCK_FILE, read
by the bot only when a test sets it); and a database that refuses writes on purpose (SQLite triggers).

The database does not change what these show (the claim's race between replicas is checked on both
databases in tests/test_acting.py), so they run once, on SQLite."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bot.app.db import make_sync_engine
from tests.conftest import MODEL, OLD, PROD, BotProcess, any_database
from tests.fakes import Canned, FakeBaseten, FakeSlack, deployment, sign
from tests.test_act_e2e import (
    FAILED,
    OPS,
    USED,
    action_payload,
    blocks_of,
    card_for,
    click,
    do_button,
    rows,
    start,
)
from tests.test_slash_e2e import answer

pytestmark = any_database
NOTHING = "Nothing was sent to Baseten: "
ACCEPTED = Canned(200, {"success": True})


class Clock:
    """The test's side of BOT_TEST_CLOCK_FILE: seconds the bot adds to its clock."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0.0
        path.write_text("0")

    def move(self, seconds: float) -> None:
        self.offset += seconds
        self.path.write_text(str(self.offset))


def running(baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path) -> tuple[BotProcess, Clock]:
    baseten.add_deployment(deployment(FAILED, MODEL, name="v4", status="BUILD_FAILED", replicas=0))
    slack.usergroups["S0ONCALL"] = ["U0CAROL"]
    clock = Clock(tmp_path / "clock")
    return start(baseten, slack, db_url, tmp_path, BOT_TEST_CLOCK_FILE=str(clock.path)), clock


def nth(slack: FakeSlack, name: str, n: int) -> dict[str, Any]:
    """The n-th answer (from 1) through one response_url."""
    return dict(slack.wait_for(lambda: len(slack.responses(name)) >= n and slack.responses(name))[n - 1])


def deliver(bot: BotProcess, body: str, headers: dict[str, str]) -> None:
    assert httpx.post(bot.url + "/slack/events", content=body, headers=headers, timeout=10).status_code == 200


def test_a_card_acts_only_on_the_status_and_role_it_showed_for_ten_minutes_and_for_an_operator_then(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot, clock = running(baseten, slack, db_url, tmp_path)
    try:
        baseten.set_status(MODEL, OLD, "ACTIVE")  # v2: running, a spare
        promote = card_for(bot, slack, f"promote {MODEL} v2", "promote")
        assert "`ACTIVE` · in no environment" in json.dumps(
            blocks_of(promote), ensure_ascii=False
        )  # what it shows, it carries
        deactivate = card_for(bot, slack, f"deactivate {MODEL} v2", "deactivate")

        baseten.set_status(MODEL, OLD, "UNHEALTHY")  # v2 fails before the Promote card is clicked
        click(bot, slack, do_button(promote), name="promoted")
        stale = answer(slack, "promoted")
        assert stale["text"] == NOTHING + "v2 was ACTIVE when this card was shown and is UNHEALTHY now."
        assert stale["replace_original"] is True
        fresh = json.dumps(blocks_of(stale))  # a fresh card, as v2 is now, warns
        assert do_button(stale)["action_id"] == "act_do_promote" and "`UNHEALTHY`" in fresh and ":warning:" in fresh

        baseten.set_status(MODEL, OLD, "ACTIVE")
        baseten.promote(MODEL, OLD)  # v2 recovers and becomes production: the Deactivate card showed a spare
        click(bot, slack, do_button(deactivate), name="deactivated")
        said = answer(slack, "deactivated")["text"]
        assert said == NOTHING + "v2 was in no environment when this card was shown and is production now."

        retry = card_for(bot, slack, f"retry {MODEL} v4", "retry")
        clock.move(601)  # the card is left for ten minutes
        click(bot, slack, do_button(retry), name="late")
        late = answer(slack, "late")
        assert late["text"] == NOTHING + "this card was shown more than 10 minutes ago."
        click(bot, slack, do_button(late), name="retried")  # the fresh card acts
        assert answer(slack, "retried")["text"] == f"<@{OPS}> retried `v4`: Baseten accepted it"

        carol = card_for(bot, slack, f"deactivate {MODEL} v3", "carol", user="U0CAROL")  # on call: a card
        slack.usergroups["S0ONCALL"] = []  # and off the rota within the minute the group is remembered
        click(bot, slack, do_button(carol), user="U0CAROL", name="carol-click")
        assert "Only the bot's operators" in answer(slack, "carol-click")["text"]

        assert [p.path for p in baseten.posts()] == [f"/v1/models/{MODEL}/deployments/{FAILED}/retry"]
        assert [r["outcome"] for r in rows(db_url)] == ["stale", "stale", "expired", "accepted"]
        assert [p["text"] for p in slack.posts()] == [f"<@{OPS}> retried `v4`: Baseten accepted it"]
    finally:
        bot.stop()


def test_a_card_acts_once_however_often_or_late_it_is_clicked_or_replayed(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """A signed request replayed 75 s and 290 s later (by the bot's clock; Slack's signature, made in
    the past, is still inside its 300 s), and a second click with its own action_ts a minute later:
    past the bot's old 60 s repeat window, and with nothing changed that the re-check would see,
    each finds the card spent."""
    bot, clock = running(baseten, slack, db_url, tmp_path)
    try:
        for i, (later, text, path) in enumerate(
            [
                (75, f"deactivate {MODEL} v3", f"/v1/models/{MODEL}/deployments/{PROD}/deactivate"),
                (290, f"activate {MODEL} v2", f"/v1/models/{MODEL}/deployments/{OLD}/activate"),
            ]
        ):
            button = do_button(card_for(bot, slack, text, f"card{i}"))
            baseten.script(path, ACCEPTED)  # as right after Baseten accepts: nothing looks changed yet
            body = action_payload(button, user=OPS, name=f"done{i}").replace("RESPONSE", slack.url + "/response")
            headers = sign(body, timestamp=int(time.time()) - later + 5)  # captured; replayed within 5 s of now
            deliver(bot, body, headers)
            assert nth(slack, f"done{i}", 1)["text"].endswith("Baseten accepted it")
            clock.move(later)
            deliver(bot, body, headers)  # the same signed request, `later` seconds on
            replayed = nth(slack, f"done{i}", 2)
            assert replayed["text"] == USED and replayed["replace_original"] is False
            assert [p.path for p in baseten.posts("/" + path.rsplit("/", 1)[1])] == [path]

        button = do_button(card_for(bot, slack, f"deactivate {MODEL} v2", "card"))
        baseten.script(f"/v1/models/{MODEL}/deployments/{OLD}/deactivate", ACCEPTED)
        click(bot, slack, button, name="first", action_ts="1700000100.000001")
        assert answer(slack, "first")["text"] == f"<@{OPS}> deactivated `v2`: Baseten accepted it"
        clock.move(61)
        click(bot, slack, button, name="second", action_ts="1700000161.000002")  # clicked again, its own action_ts
        assert answer(slack, "second")["text"] == USED
        assert len(baseten.posts()) == 3
        assert bot.output().count("ignored a repeat of") == 3
        assert [r["outcome"] for r in rows(db_url)] == ["accepted"] * 3
    finally:
        bot.stop()


def test_every_click_is_answered_when_the_database_fails(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    """The claim cannot be written: nothing is sent, and the card still works. The outcome cannot be
    written after Baseten accepted: the card and the channel say both."""
    bot, _ = running(baseten, slack, db_url, tmp_path)
    engine = make_sync_engine(db_url)

    def sql(statement: str) -> None:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))

    try:
        button = do_button(card_for(bot, slack, f"deactivate {MODEL} v3", "card"))
        sql("CREATE TRIGGER no_claims BEFORE INSERT ON actions BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        click(bot, slack, button, name="unrecorded")
        said = answer(slack, "unrecorded")
        assert (
            said["text"]
            == "The bot could not record it; nothing was sent. Try again in a moment: this card still works."
        )
        assert said["replace_original"] is False and baseten.posts() == []

        sql("DROP TRIGGER no_claims")
        sql("CREATE TRIGGER no_outcomes BEFORE UPDATE ON actions BEGIN SELECT RAISE(ABORT, 'disk full'); END")
        click(bot, slack, button, name="done", action_ts="1700000101.000001")  # the same card, again
        done = answer(slack, "done")
        assert done["text"] == f"<@{OPS}> deactivated `v3`: Baseten accepted it, but the record failed"
        line = slack.wait_for(lambda: [p for p in slack.posts() if "deactivated" in p["text"]])
        assert line[0]["text"] == done["text"]
        assert [p.path for p in baseten.posts()] == [f"/v1/models/{MODEL}/deployments/{PROD}/deactivate"]
        (row,) = rows(db_url)
        assert row["card_id"] and row["outcome"] is None  # claimed; the outcome could not be written
        assert "Traceback" not in json.dumps(slack.responses()) + json.dumps(slack.posts())
    finally:
        engine.dispose()
        bot.stop()
