"""Approvals end to end (issue 27, APPROVAL_REQUIRED): the real `serve` process, signed commands and
clicks, the fake Slack keeping the request's message and its edits, the fake Baseten counting every
POST, and the bot's clock moved by the test (BOT_TEST_CLOCK_FILE) to let a request expire."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from bot.app.db import make_sync_engine
from tests.conftest import MODEL, OLD, PROD, BotProcess, any_database
from tests.fakes import FakeBaseten, FakeSlack, sign, wait_until
from tests.test_act_cards_e2e import Clock
from tests.test_act_e2e import OPS, action_payload, blocks_of, buttons, card_for, click, do_button, rows, start
from tests.test_slash_e2e import answer, post_command

pytestmark = any_database
BOB = "U0BOB"  # a second operator
EVE = "U0EVE"  # not an operator
PROMOTE = f"/v1/models/{MODEL}/deployments/{OLD}/promote"


def running(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path, **env: str
) -> tuple[BotProcess, Clock]:
    baseten.set_status(MODEL, OLD, "ACTIVE")  # v2: running, a spare, ready to promote
    clock = Clock(tmp_path / "clock")
    settings = {"OPERATOR_USER_IDS": f"{OPS},{BOB}", "APPROVAL_REQUIRED": "promote:production,rollback:*", **env}
    return start(baseten, slack, db_url, tmp_path, BOT_TEST_CLOCK_FILE=str(clock.path), **settings), clock


def said(message: dict[str, Any]) -> str:
    return f"{message.get('text')} {json.dumps(blocks_of(message), ensure_ascii=False)}"


def ask(bot: BotProcess, slack: FakeSlack, name: str, text: str = f'promote {MODEL} v2 "fixes OOM"') -> dict[str, Any]:
    """A requester's confirmed card on a listed pair: the request posted in the channel, returned."""
    before = len(requests(slack))
    click(bot, slack, do_button(card_for(bot, slack, text, name)), name=f"{name}-click")
    sent = answer(slack, f"{name}-click")
    assert sent["replace_original"] is True and "Sent for approval" in said(sent), sent
    assert "Nothing has been sent to Baseten yet" in said(sent)
    found: dict[str, Any] = wait_until(
        lambda: len(requests(slack)) > before and requests(slack)[-1], what="the request"
    )
    return found  # Slack's own record of it (`ts_of` finds it by identity)


def requests(slack: FakeSlack) -> list[dict[str, Any]]:
    return [p for p in slack.posts() if str(p["text"]).startswith("Approval needed")]


def decide(bot: BotProcess, slack: FakeSlack, request: dict[str, Any], which: str, user: str, name: str) -> None:
    (button,) = [b for b in buttons(request) if b["action_id"] == f"approval_{which}"]
    click(bot, slack, button, user=user, name=name, message_ts=slack.ts_of(request))


def edit_of(slack: FakeSlack, request: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
    """The request's message as last edited (chat.update, accepted)."""
    ts = slack.ts_of(request)

    def edits() -> list[dict[str, Any]]:
        return [c.body for c in slack.calls("chat.update") if c.ok and c.body.get("ts") == ts]

    return dict(wait_until(edits, timeout, what="the request edited")[-1])


def approvals(db_url: str) -> list[dict[str, Any]]:
    engine = make_sync_engine(db_url)
    with engine.connect() as conn:
        found = [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM approvals ORDER BY id"))]
    engine.dispose()
    return found


def test_a_production_promote_waits_for_a_second_operator_and_runs_once(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot, _ = running(baseten, slack, db_url, tmp_path)
    try:
        request = ask(bot, slack, "ask")
        assert request["channel"] == "C0GENERAL" and baseten.posts() == []
        shown = said(request)
        assert request["text"].startswith(f"Approval needed: <@{OPS}> asks to promote v2 of llama-3-8b")
        assert "fixes OOM" in shown and "`ACTIVE` · in no environment" in shown and "<!date^" in shown
        assert [b["action_id"] for b in buttons(request)] == ["approval_approve", "approval_reject"]

        decide(bot, slack, request, "approve", OPS, "own")  # the requester's own Approve
        assert "You asked for this, so another operator must approve it" in said(answer(slack, "own"))
        decide(bot, slack, request, "approve", EVE, "eve")  # not an operator
        assert "Only the bot's operators" in said(answer(slack, "eve"))
        assert baseten.posts() == [] and [a["state"] for a in approvals(db_url)] == ["pending"]

        (button,) = [b for b in buttons(request) if b["action_id"] == "approval_approve"]
        body = action_payload(button, user=BOB, name="bob", message_ts=slack.ts_of(request))
        body = body.replace("RESPONSE", slack.url + "/response")
        twice = [
            threading.Thread(
                target=httpx.post, args=(bot.url + "/slack/events",), kwargs={"content": body, "headers": sign(body)}
            )
            for _ in range(2)
        ]
        for t in twice:
            t.start()
        for t in twice:
            t.join()
        edited = edit_of(slack, request)
        assert edited["text"].startswith(f"Approved by <@{BOB}>")
        assert f"<@{BOB}> promoted `v2`" in said(edited) and "Baseten accepted it" in said(edited)
        assert buttons(edited) == [] and "fixes OOM" in said(edited)
        repeat = answer(slack, "bob")  # the other delivery: told, nothing more sent
        assert f"already approved by <@{BOB}>; nothing more was sent" in said(repeat)
        decide(bot, slack, request, "approve", BOB, "late")  # a later click, and Reject after it
        assert "already approved" in said(answer(slack, "late"))
        decide(bot, slack, request, "reject", BOB, "late-reject")
        assert "already approved" in said(answer(slack, "late-reject"))

        assert [p.path for p in baseten.posts()] == [PROMOTE]
        line = slack.wait_for(lambda: [p for p in slack.posts() if "promoted `v2`" in p["text"]])
        assert line[0]["text"] == f"<@{BOB}> promoted `v2`: Baseten accepted it"
        (approval,) = approvals(db_url)
        assert (approval["state"], approval["requested_by"], approval["decided_by"]) == ("approved", OPS, BOB)
        assert approval["reason"] == "fixes OOM" and approval["ts"] == slack.ts_of(request)
        asked, ran = rows(db_url)
        assert (asked["user_id"], asked["outcome"], asked["approval_id"]) == (OPS, "requested", approval["id"])
        assert (ran["user_id"], ran["outcome"], ran["approval_id"]) == (BOB, "accepted", approval["id"])
        assert approval["action_id"] == ran["id"]
    finally:
        bot.stop()


def test_an_expired_request_sends_nothing_and_says_it_expired(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot, clock = running(baseten, slack, db_url, tmp_path, APPROVAL_TTL_MINUTES="5")
    try:
        waited, clicked = ask(bot, slack, "waited"), ask(bot, slack, "clicked")
        clock.move(301)  # past the five minutes
        decide(bot, slack, clicked, "approve", BOB, "too-late")  # at once: the click finds it past its end
        assert "expired without an approval; nothing was sent" in said(answer(slack, "too-late"))
        for request in (waited, clicked):  # the other: the lease holder's pass expires it within seconds
            edited = edit_of(slack, request, timeout=20)
            assert edited["text"].startswith("Expired") and "without an approval. Nothing was sent" in said(edited)
            assert buttons(edited) == []
        decide(bot, slack, waited, "approve", BOB, "later")
        assert "expired without an approval; nothing was sent" in said(answer(slack, "later"))
        assert baseten.posts() == []
        assert [(a["state"], a["decided_by"]) for a in approvals(db_url)] == [("expired", None)] * 2
        assert [r["outcome"] for r in rows(db_url)] == ["requested"] * 2
    finally:
        bot.stop()


def test_a_target_changed_or_frozen_since_the_request_sends_nothing_and_the_request_says_so(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot, _ = running(baseten, slack, db_url, tmp_path)
    try:
        changed = ask(bot, slack, "changed")
        baseten.set_status(MODEL, OLD, "UNHEALTHY")  # v2 fails while the request waits
        decide(bot, slack, changed, "approve", BOB, "approve-changed")
        edited = said(edit_of(slack, changed))
        assert f"Approved by <@{BOB}>" in edited
        assert "Nothing was sent to Baseten: v2 was ACTIVE when this card was shown and is UNHEALTHY now" in edited
        assert "Here it is as it is now" not in edited  # no fresh card: the approver did not ask for one

        baseten.set_status(MODEL, OLD, "ACTIVE")
        frozen = ask(bot, slack, "frozen")
        post_command(bot, slack, f'freeze {MODEL} env:production 1h "launch day"', name="fz")
        assert "launch day" in said(answer(slack, "fz"))
        decide(bot, slack, frozen, "approve", BOB, "approve-frozen")
        edited = said(edit_of(slack, frozen))
        assert f"Approved by <@{BOB}>" in edited and "launch day" in edited and "nothing was sent" in edited

        assert baseten.posts() == []
        assert [a["state"] for a in approvals(db_url)] == ["approved", "approved"]
        assert [r["outcome"] for r in rows(db_url)] == ["requested", "stale", "requested", "frozen"]
    finally:
        bot.stop()


def test_reject_withdraw_and_an_unrecordable_approval_edit_the_request_and_send_nothing(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot, _ = running(baseten, slack, db_url, tmp_path)
    try:
        rejected = ask(bot, slack, "rejected")
        decide(bot, slack, rejected, "reject", EVE, "eve")  # not an operator: nothing changes
        assert "Only the bot's operators" in said(answer(slack, "eve"))
        decide(bot, slack, rejected, "reject", BOB, "reject")
        edited = edit_of(slack, rejected)
        assert edited["text"].startswith(f"Rejected by <@{BOB}>") and buttons(edited) == []
        decide(bot, slack, rejected, "approve", BOB, "after")
        assert f"already rejected by <@{BOB}>" in said(answer(slack, "after"))

        withdrawn = ask(bot, slack, "withdrawn")
        decide(bot, slack, withdrawn, "reject", OPS, "withdraw")  # the requester takes it back
        assert edit_of(slack, withdrawn)["text"].startswith(f"Withdrawn by <@{OPS}>")

        unrecorded = ask(bot, slack, "unrecorded")  # then the database refuses the approved run's claim
        engine = make_sync_engine(db_url)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TRIGGER no_runs BEFORE INSERT ON actions WHEN NEW.card_id LIKE 'approval-%' "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        engine.dispose()
        decide(bot, slack, unrecorded, "approve", BOB, "approve-unrecorded")
        edited = said(edit_of(slack, unrecorded))
        assert (
            f"Approved by <@{BOB}>" in edited and "could not record the approved action, so nothing was sent" in edited
        )
        assert "Traceback" not in json.dumps(slack.responses()) + json.dumps(slack.posts())

        assert baseten.posts() == []
        assert [(a["state"], a["decided_by"]) for a in approvals(db_url)] == [
            ("rejected", BOB),
            ("rejected", OPS),
            ("approved", BOB),
        ]
        assert [r["outcome"] for r in rows(db_url)] == ["requested"] * 3
    finally:
        bot.stop()


def test_a_deployments_action_needs_approval_by_its_role_and_never_in_a_dm(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot, _ = running(baseten, slack, db_url, tmp_path, APPROVAL_REQUIRED="deactivate:staging")
    baseten.set_status(MODEL, OLD, "ACTIVE", environment="staging")  # v2: staging's current deployment
    try:
        ask(bot, slack, "staging", f"deactivate {MODEL} v2")  # staging's: listed
        in_dm = card_for(bot, slack, f"deactivate {MODEL} v2", "dm")
        click(bot, slack, do_button(in_dm), name="dm-click", channel="D0BOTDM", message_ts="1700000099.000003")
        assert "approvals need a channel others can see" in said(answer(slack, "dm-click"))
        production = card_for(bot, slack, f"deactivate {MODEL} v3", "production")  # production's: not listed
        click(bot, slack, do_button(production), name="prod-click", message_ts="1700000099.000002")
        assert "Baseten accepted it" in said(answer(slack, "prod-click"))
        assert [p.path for p in baseten.posts()] == [f"/v1/models/{MODEL}/deployments/{PROD}/deactivate"]
        assert len(requests(slack)) == 1 and [a["channel_id"] for a in approvals(db_url)] == ["C0GENERAL"]
        assert [(r["outcome"], r["deployment_id"]) for r in rows(db_url)] == [("requested", OLD), ("accepted", PROD)]
    finally:
        bot.stop()


def test_an_override_request_names_its_freeze_and_acts_through_no_other(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot, _ = running(baseten, slack, db_url, tmp_path, ADMIN_USER_IDS=OPS)
    try:
        post_command(bot, slack, f'freeze {MODEL} env:production 1h "launch day"', name="fz", user=OPS)
        answer(slack, "fz")
        text = f'promote {MODEL} v2 "hotfix" --override'
        first, second = ask(bot, slack, "first", text), ask(bot, slack, "second", text)
        shown = said(first)
        assert "Overriding a freeze" in shown and "launch day" in shown and f"frozen by <@{OPS}>" in shown
        post_command(bot, slack, 'freeze all env:production 1h "new one"', name="fz2", user=OPS)
        answer(slack, "fz2")
        decide(bot, slack, first, "approve", BOB, "approve-first")  # a freeze set since the request
        edited = said(edit_of(slack, first))
        assert "A new freeze holds since this was asked" in edited and "new one" in edited
        assert baseten.posts() == []

        post_command(bot, slack, "unfreeze all", name="uf", user=OPS)
        answer(slack, "uf")
        decide(bot, slack, second, "approve", BOB, "approve-second")  # only the freeze it named: it acts
        assert "Baseten accepted it" in said(edit_of(slack, second))
        assert [p.path for p in baseten.posts()] == [PROMOTE]
        ran = rows(db_url)[-1]
        assert (ran["user_id"], ran["outcome"]) == (BOB, "accepted")
        assert "launch day" in ran["override"] and ran["override"].endswith(f"overridden by {OPS}")
    finally:
        bot.stop()


def test_a_stale_button_and_an_unrecorded_request_decide_nothing(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot, _ = running(baseten, slack, db_url, tmp_path)
    try:
        request = ask(bot, slack, "open")
        (button,) = [b for b in buttons(request) if b["action_id"] == "approval_approve"]
        click(bot, slack, button, user=BOB, name="stale", message_ts="1600000000.000001")  # another message
        assert "This request is no longer open; nothing was sent" in said(answer(slack, "stale"))
        assert [a["state"] for a in approvals(db_url)] == ["pending"]

        engine = make_sync_engine(db_url)
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE TRIGGER no_ts BEFORE UPDATE OF ts ON approvals WHEN NEW.ts IS NOT NULL "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        engine.dispose()
        click(bot, slack, do_button(card_for(bot, slack, f"promote {MODEL} v2", "lost")), name="lost-click")
        told = said(answer(slack, "lost-click"))
        assert "could not record it, so it cannot be approved and nothing will be sent" in told
        lost = requests(slack)[-1]
        assert "could not be recorded by the bot" in said(edit_of(slack, lost))
        assert [a["state"] for a in approvals(db_url)] == ["pending", "unposted"]
        assert baseten.posts() == []
    finally:
        bot.stop()
