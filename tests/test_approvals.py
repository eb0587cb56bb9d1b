"""Approval requests (APPROVAL_REQUIRED): the pure messages and button values, the store's one-way
decisions on a real migrated database (SQLite, or PostgreSQL with TEST_DATABASE_URL), and the expiry
pass against the fake Slack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.actions.approval_messages import (
    APPROVE,
    REJECT,
    already,
    approved_head,
    decided,
    expired_head,
    read_id,
    rejected_head,
    request,
)
from bot.actions.approvals import Expiry
from bot.actions.checks import GO, SPENT, TAKEN, Shown, encode_card, on_claim, read_card
from bot.actions.verbs import VERBS, Target
from bot.app.db import make_async_engine, sessions
from bot.app.runtime import slack_client
from bot.render.help import help_message
from bot.store import Store
from bot.store.approvals import NewApproval
from tests.fakes import BOT_TOKEN, TEAM, FakeSlack
from tests.test_render import within_limits

NOW = datetime(2026, 12, 5, 8, 30, tzinfo=UTC)
TARGET = Target("mdl1abcd", "dep3old", "production", "llama <!channel>", "v2")
SHOWN = Shown("0123456789abcdef", NOW, "ACTIVE", "-", None, False, 'fixes `OOM` <@U0ALL> "now"')
PROMOTE = VERBS["promote"]


def test_button_values_read_back_only_as_the_bot_wrote_them() -> None:
    assert read_id("17") == 17
    for bad in ("", "x", "-1", "1.0", "1" * 13, None, 17, " 1"):
        assert read_id(bad) is None, bad
    value = encode_card("promote", TARGET, SHOWN)
    assert read_card(value) == (PROMOTE, TARGET, SHOWN)
    assert read_card(json.dumps(json.loads(value))) == (PROMOTE, TARGET, SHOWN)  # as the database keeps it
    assert read_card(value.replace('"c":"0123456789abcdef"', '"c":"nope"')) is None
    assert read_card('{"v":"launch"}') is None and read_card("not json") is None
    through = Shown("0123456789abcdef", NOW, "ACTIVE", "production", None, True, "", (3, 17))
    assert read_card(encode_card("promote", TARGET, through)) == (PROMOTE, TARGET, through)  # the freezes it overrides
    assert read_card(encode_card("promote", TARGET, through).replace('"3,17"', '"3;x"')) is None


def test_an_approved_run_is_not_held_to_the_cards_ten_minutes_but_is_claimed_once() -> None:
    later = NOW + timedelta(minutes=25)
    assert on_claim("claimed", SHOWN, later).kind == "expired"
    assert on_claim("claimed", SHOWN, later, aged=False).kind == GO
    assert on_claim(TAKEN, SHOWN, later, aged=False).kind == SPENT


def test_the_request_says_what_who_why_and_until_when_and_its_buttons_name_only_its_id() -> None:
    message = request(7, PROMOTE, TARGET, SHOWN, requester="U0OPS", expires_at=NOW + timedelta(minutes=30))
    within_limits(message)
    shown = json.dumps(message.blocks, ensure_ascii=False)
    assert message.text == "Approval needed: <@U0OPS> asks to promote v2 of llama &lt;!channel&gt;"
    assert "<!channel>" not in shown and "<@U0ALL>" not in shown  # Baseten's names and the reason are escaped
    assert "fixes `OOM`" not in shown  # a backtick in the reason cannot open code
    assert "Request #7" in shown and "`ACTIVE` · in no environment" in shown and "in `production`" in shown
    assert f"<!date^{int((NOW + timedelta(minutes=30)).timestamp())}^" in shown
    approve, reject = message.blocks[-1]["elements"]
    assert (approve["action_id"], approve["value"], reject["action_id"], reject["value"]) == (APPROVE, "7", REJECT, "7")
    assert "confirm" in approve and approve["confirm"]["text"]["text"].startswith("Baseten will promote v2")
    no_reason = request(7, PROMOTE, TARGET, Shown("0123456789abcdef", NOW, "ACTIVE"), requester="U0OPS", expires_at=NOW)
    assert "No reason given." in json.dumps(no_reason.blocks)


def test_a_decided_request_loses_its_buttons_and_says_how_it_ended() -> None:
    below = [{"type": "section", "text": {"type": "mrkdwn", "text": "<@U0BOB> promoted `v2`: Baseten accepted it"}}]
    approved = decided(PROMOTE, TARGET, SHOWN, requester="U0OPS", head=approved_head("U0BOB", NOW), below=below)
    within_limits(approved)
    assert approved.text.startswith("Approved by <@U0BOB>: <@U0OPS> asks to promote v2")
    assert all(b["type"] != "actions" for b in approved.blocks) and approved.blocks[-1] == below[0]
    assert rejected_head("U0BOB", "U0OPS", NOW)[1] == "Rejected by <@U0BOB>"
    assert rejected_head("U0OPS", "U0OPS", NOW)[1] == "Withdrawn by <@U0OPS>"
    assert "Nothing was sent" in expired_head(NOW)[0]
    assert already("approved", "U0BOB") == "This request was already approved by <@U0BOB>; nothing more was sent."
    assert already("approved", "<!here>") == "This request was already approved by someone; nothing more was sent."
    assert already("expired", None).startswith("This request expired")


def test_help_says_how_approvals_work() -> None:
    message = help_message()
    within_limits(message)
    shown = json.dumps(message.blocks)
    assert "APPROVAL_REQUIRED" in shown and "APPROVAL_TTL_MINUTES" in shown and "not the one who" in shown
    assert "not a DM" in shown and "matches only `verb:*`" in shown  # a deployment's environment, said
    assert "with ADMIN_USER_IDS unset, anyone who may act" in shown


# -- the store, on a real database ------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(db_url: str, clock: Clock) -> AsyncIterator[Store]:
    engine = make_async_engine(db_url)
    yield Store(sessions(engine), now=clock)
    await engine.dispose()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.close()


def new(minutes: int = 30, by: str = "U0OPS") -> NewApproval:
    return NewApproval(
        team_id=TEAM,
        channel_id="C1",
        requested_by=by,
        verb="promote",
        model_id=TARGET.model_id,
        deployment_id=TARGET.deployment_id,
        environment="production",
        card=json.loads(encode_card("promote", TARGET, SHOWN)),
        reason=SHOWN.reason,
        expires_at=NOW + timedelta(minutes=minutes),
    )


async def test_a_request_is_decided_once_by_another_operator_in_time(store: Store, clock: Clock) -> None:
    first = await store.approvals.add(new())
    await store.approvals.posted(first, "1700000000.000001")
    assert not await store.approvals.approve(first, by="U0OPS")  # the requester's own
    approvals = await asyncio.gather(*(store.approvals.approve(first, by=u) for u in ("U0BOB", "U0CAROL", "U0DAN")))
    assert sorted(approvals) == [False, False, True]
    assert not await store.approvals.reject(first, by="U0BOB") and not await store.approvals.expire(first)
    await store.approvals.ran(first, 42)
    found = await store.approvals.get(first)
    assert found is not None and found.state == "approved" and found.decided_by in ("U0BOB", "U0CAROL", "U0DAN")
    assert (found.ts, found.action_id, found.decided_at, found.reason) == ("1700000000.000001", 42, NOW, SHOWN.reason)
    assert read_card(json.dumps(found.card)) == (PROMOTE, TARGET, SHOWN)

    withdrawn = await store.approvals.add(new())
    assert await store.approvals.reject(withdrawn, by="U0OPS")  # the requester may withdraw it
    late = await store.approvals.add(new(minutes=5))
    assert await store.approvals.due() == [] and not await store.approvals.expire(late)  # not past its end
    clock.at = NOW + timedelta(minutes=6)
    assert [a.id for a in await store.approvals.due()] == [late]
    assert not await store.approvals.approve(late, by="U0BOB") and not await store.approvals.reject(late, by="U0BOB")
    assert await store.approvals.expire(late) and not await store.approvals.expire(late)
    assert await store.approvals.due() == []
    unposted = await store.approvals.add(new())
    assert await store.approvals.unposted(unposted) and not await store.approvals.approve(unposted, by="U0BOB")
    states = [(a.state, a.decided_by) for a in [await store.approvals.get(i) for i in (withdrawn, late, unposted)] if a]
    assert states == [("rejected", "U0OPS"), ("expired", None), ("unposted", None)]
    assert await store.approvals.get(999) is None

    clock.at = NOW + timedelta(days=31)  # RETENTION_DAYS later: decided ones go, a pending one stays
    pending = await store.approvals.add(new(minutes=60 * 24 * 40))
    pruned = await store.retention.prune(before=NOW + timedelta(days=1))
    assert pruned.rows["approvals"] == 4
    assert await store.approvals.get(first) is None and await store.approvals.get(pending) is not None


async def test_the_expiry_pass_expires_then_edits_and_a_failed_edit_keeps_it_expired(
    store: Store, clock: Clock, fake_slack: FakeSlack
) -> None:
    slack = slack_client(BOT_TOKEN, fake_slack.api_url)
    posted = await slack.chat_postMessage(channel="C1", text="Approval needed: …")
    shown = await store.approvals.add(new(minutes=5))
    await store.approvals.posted(shown, str(posted["ts"]))
    lost = await store.approvals.add(new(minutes=5))
    await store.approvals.posted(lost, "1700000999.000001")  # a message Slack no longer has
    waiting = await store.approvals.add(new(minutes=60))
    expiry = Expiry(store=store, slack=slack, now=clock)
    assert await expiry.run() == 0
    clock.at = NOW + timedelta(minutes=6)
    assert await expiry.run() == 2 and await expiry.run() == 0
    (edit,) = [c.body for c in fake_slack.calls("chat.update") if c.ok]
    assert edit["ts"] == posted["ts"] and str(edit["text"]).startswith("Expired: <@U0OPS> asks to promote v2")
    assert [c.ok for c in fake_slack.calls("chat.update")] == [True, False]  # message_not_found: logged
    states = [a.state for a in [await store.approvals.get(i) for i in (shown, lost, waiting)] if a]
    assert states == ["expired", "expired", "pending"]
