"""Allow-lists of Slack user ids and user group ids: `ADMIN_USER_IDS` (who may change
subscriptions; unset: everyone) and `OPERATOR_USER_IDS` (who may act on deployments;
unset: nobody).

A user group (`S…`) is read with `usergroups.users.list` (scope `usergroups:read`)
and kept for a minute, so a burst of commands costs one Slack call; `confirms`, for a
click that acts, reads it again every time. When Slack
cannot answer, the last membership seen is used for another minute; a group
never read counts as empty. Refusing is the safe side: nobody gains rights through an error.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.ids import USER_ID

log = logging.getLogger(__name__)

GROUP_ID = re.compile(r"S[A-Z0-9]{1,30}")
TTL_SECONDS = 60.0
LOOKUP_TIMEOUT = 2.0


def split_ids(raw: str) -> tuple[frozenset[str], frozenset[str]]:
    """Users and user groups from an allow-list setting; raises ValueError naming a bad entry."""
    users: set[str] = set()
    groups: set[str] = set()
    for part in raw.split(","):
        entry = part.strip()
        if not entry:
            continue
        if USER_ID.fullmatch(entry):
            users.add(entry)
        elif GROUP_ID.fullmatch(entry):
            groups.add(entry)
        else:
            shown = entry if len(entry) <= 24 else entry[:24] + "…"
            raise ValueError(f"{shown!r} is neither a Slack user id (U…, W…) nor a user group id (S…)")
    return frozenset(users), frozenset(groups)


@dataclass
class _Known:
    members: frozenset[str]
    read_at: float


class AllowList:
    """Users listed by id, or through a listed user group. Empty: everyone (`empty_allows`) or nobody."""

    def __init__(
        self,
        users: frozenset[str] = frozenset(),
        groups: frozenset[str] = frozenset(),
        slack: AsyncWebClient | None = None,
        *,
        setting: str = "ADMIN_USER_IDS",
        empty_allows: bool = True,
        fail_closed: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = users
        self.groups = groups
        self.setting = setting  # named in log lines
        self._empty_allows = empty_allows
        self._fail_closed = fail_closed  # a group Slack cannot read admits nobody, not its last members
        self._slack = slack
        self._clock = clock
        self._known: dict[str, _Known] = {}
        self._failing: dict[str, str] = {}  # group -> the error last logged, so it is logged once

    @property
    def everyone(self) -> bool:
        return self._empty_allows and not self.users and not self.groups

    @property
    def anyone(self) -> bool:
        """Whether anybody at all may: false only for an empty list that admits nobody."""
        return self._empty_allows or bool(self.users or self.groups)

    def settled(self, user: str) -> bool | None:
        """The answer when it needs no Slack call, else None."""
        if self.everyone or user in self.users:
            return True
        if not self.groups:
            return False
        fresh = [k for g in self.groups if (k := self._known.get(g)) and self._clock() - k.read_at < TTL_SECONDS]
        if any(user in k.members for k in fresh):
            return True
        return False if len(fresh) == len(self.groups) else None

    async def allows(self, user: str) -> bool:
        settled = self.settled(user)
        if settled is not None:
            return settled
        for group in sorted(self.groups):
            if user in await self._members(group):
                return True
        return False

    async def confirms(self, user: str) -> bool | None:
        """Whether the user may, with every group read from Slack now, not remembered: for the click
        that acts, so someone just removed from a group cannot act for the rest of the minute.
        None: a group Slack could not read now may hold the user (nobody acts on that)."""
        if self.everyone or user in self.users:
            return True
        unknown = False
        for group in sorted(self.groups):
            members = await self._read(group)
            if members is None:
                unknown = True
            elif user in members:
                return True
        return None if unknown else False

    async def _members(self, group: str) -> frozenset[str]:
        known = self._known.get(group)
        if known and self._clock() - known.read_at < TTL_SECONDS:
            return known.members
        members = await self._read(group)
        if members is None:
            return self._known[group].members  # what `_failed` kept
        return members

    async def _read(self, group: str) -> frozenset[str] | None:
        """The group's members from Slack now (remembered for the next minute); None when Slack cannot say."""
        known = self._known.get(group)
        try:
            if self._slack is None:
                raise RuntimeError("no Slack client")
            resp = await asyncio.wait_for(self._slack.usergroups_users_list(usergroup=group), LOOKUP_TIMEOUT)
            members = frozenset(str(u) for u in resp.get("users") or [])
        except SlackApiError as exc:
            self._failed(group, str(exc.response.get("error") or "error"), known)
            return None
        except Exception as exc:  # noqa: BLE001 - network, timeout, anything: keep what was known
            self._failed(group, type(exc).__name__, known)
            return None
        if group in self._failing:
            log.info("read user group %s again", group)
            del self._failing[group]
        self._known[group] = _Known(members, self._clock())
        return members

    def _failed(self, group: str, error: str, known: _Known | None) -> frozenset[str]:
        """Keeps the last members seen (or none, when failing closed) for another TTL, so a broken group
        costs one call a minute."""
        members = known.members if known and not self._fail_closed else frozenset()
        self._known[group] = _Known(members, self._clock())
        if self._failing.get(group) == error:
            return members
        self._failing[group] = error
        hint = " (the app needs the usergroups:read scope)" if error == "missing_scope" else ""
        log.warning(
            "could not read user group %s from %s: %s%s; %s",
            group,
            self.setting,
            error,
            hint,
            "its members may not act until it can be read"
            if self._fail_closed
            else "using the last members seen, if any",
        )
        return members


class Admins(AllowList):
    """`ADMIN_USER_IDS`: who may change subscriptions; unset, everyone."""


def operators(
    users: frozenset[str] = frozenset(), groups: frozenset[str] = frozenset(), slack: AsyncWebClient | None = None
) -> AllowList:
    """`OPERATOR_USER_IDS`: who may act on deployments; unset, nobody (acting on production is riskier).
    A group Slack cannot read admits nobody meanwhile: someone just removed from it must not act."""
    return AllowList(users, groups, slack, setting="OPERATOR_USER_IDS", empty_allows=False, fail_closed=True)
