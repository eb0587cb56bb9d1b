"""The allow-list against the fake Slack: user groups are remembered a minute, and an
error never lets anyone in who was not in the group when Slack last answered."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admins import TTL_SECONDS, Admins, operators, split_ids
from tests.fakes import BOT_TOKEN, Canned, FakeSlack


def test_split_ids_sorts_users_from_groups_and_names_a_bad_entry() -> None:
    assert split_ids(" U0A, W0B ,S0C,, ") == (frozenset({"U0A", "W0B"}), frozenset({"S0C"}))
    assert split_ids("") == (frozenset(), frozenset())
    for bad in ("@alice", "u0lower", "C0CHANNEL", "U0A B"):
        with pytest.raises(ValueError, match="neither a Slack user id"):
            split_ids(f"U0OK,{bad}")


def test_groups_are_remembered_then_read_again_and_errors_keep_the_last_members(slack: FakeSlack) -> None:
    now = [1000.0]
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    admins = Admins(frozenset({"U0BOSS"}), frozenset({"S0ONCALL"}), client, clock=lambda: now[0])
    slack.usergroups["S0ONCALL"] = ["U0CAROL"]

    async def scenario() -> list[bool]:
        seen = [await admins.allows("U0BOSS"), await admins.allows("U0CAROL"), await admins.allows("U0DAVE")]
        slack.usergroups["S0ONCALL"] = ["U0DAVE"]  # the rota changes ...
        seen.append(await admins.allows("U0DAVE"))  # ... and is seen only after a minute
        now[0] += TTL_SECONDS + 1
        seen += [await admins.allows("U0DAVE"), await admins.allows("U0CAROL")]
        slack.script("usergroups.users.list", Canned(503, {"ok": False, "error": "service_unavailable"}))
        now[0] += TTL_SECONDS + 1
        seen += [await admins.allows("U0DAVE"), await admins.allows("U0CAROL")]  # Slack down: last members
        return seen

    assert asyncio.run(scenario()) == [True, True, False, False, True, False, True, False]
    assert len(slack.calls("usergroups.users.list")) == 3


def test_everyone_when_unset_and_nobody_beyond_the_list_otherwise() -> None:
    assert Admins().settled("U0ANY") is True
    only = Admins(frozenset({"U0BOSS"}))
    assert only.settled("U0BOSS") is True and only.settled("U0ANY") is False
    assert Admins(groups=frozenset({"S0X"})).settled("U0ANY") is None  # needs Slack
    assert asyncio.run(Admins(groups=frozenset({"S0X"})).allows("U0ANY")) is False  # no client: nobody


def test_the_click_that_acts_reads_the_group_from_slack_then_and_nobody_acts_when_slack_cannot_say(
    slack: FakeSlack,
) -> None:
    """A minute is too long for someone just removed from the on-call group to keep acting."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    ops = operators(frozenset({"U0BOSS"}), frozenset({"S0ONCALL"}), client)
    slack.usergroups["S0ONCALL"] = ["U0CAROL"]

    async def scenario() -> list[bool | None]:
        seen: list[bool | None] = [await ops.allows("U0CAROL"), await ops.confirms("U0CAROL")]
        slack.usergroups["S0ONCALL"] = []  # removed from the rota
        seen += [await ops.allows("U0CAROL"), await ops.confirms("U0CAROL")]  # remembered; read again
        seen.append(await ops.allows("U0CAROL"))  # and what was read is remembered from then on
        slack.usergroups["S0ONCALL"] = ["U0CAROL"]
        slack.script("usergroups.users.list", *[Canned(200, {"ok": False, "error": "internal_error"})] * 2)
        seen += [await ops.confirms("U0CAROL"), await ops.confirms("U0DAVE")]  # Slack cannot say: nobody
        seen.append(await ops.confirms("U0BOSS"))  # listed by id: no group to read
        return seen

    assert asyncio.run(scenario()) == [True, True, True, False, False, None, None, True]
    assert len(slack.calls("usergroups.users.list")) == 5
