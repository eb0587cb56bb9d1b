"""The subscription commands: subscribe, unsubscribe, list, mute, unmute, resume.

Each returns the answer and whether the channel sees it (`in_channel`) or only the
person who asked (`ephemeral`). Changes are announced in the channel, refusals are not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.baseten.client import BasetenClient
from bot.baseten.errors import BasetenError
from bot.baseten.models import Deployment, Model
from bot.commands.digests import digest_line
from bot.commands.lookup import (
    LookupFailed,
    check_plain_id,
    explain,
    resolve_deployment,
    resolve_environment,
    resolve_model,
)
from bot.commands.typed import ENV, WHOLE_MODEL, Mute, Resume, Subscribe, Unmute, Unsubscribe
from bot.commands.wording import (
    describe_target,
    list_line,
    mute_line,
    option_changes,
    subscribed_lines,
    typed,
)
from bot.domain.memory import ModelRow
from bot.domain.subjects import kind_of, own_id, split_typed
from bot.polling.transitions import snap_of
from bot.render import cards
from bot.render.cards import Message
from bot.render.dates import stamp
from bot.render.text import escape, line, mrkdwn
from bot.store import Store
from bot.store.subscriptions import SubscriptionView

log = logging.getLogger(__name__)
Answer = tuple[Message, str]
NOT_IN_CHANNEL = (
    "The bot is not in this private channel, so it could not post notices here. "
    "Invite it first (for example `/invite @baseten`), then subscribe again."
)
MAX_LIST_LINES = 200


@dataclass(frozen=True)
class Actor:
    team_id: str
    channel_id: str
    user_id: str


class Subscriptions:
    def __init__(
        self,
        *,
        client: BasetenClient,
        store: Store,
        now: Callable[[], datetime],
        slack: AsyncWebClient | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._now = now
        self._slack = slack  # asked whether the bot can post in the channel; None: not asked

    async def subscribe(self, cmd: Subscribe, actor: Actor) -> Answer:
        await self.check_channel(actor.channel_id)
        model = await resolve_model(self._client, cmd.model)
        if cmd.target.startswith(ENV):  # follows the environment: no one deployment is its target
            env = await resolve_environment(self._client, model, cmd.target[len(ENV) :])
            cmd = replace(cmd, target=ENV + env.name)  # as Baseten spells it
            watched = env.current_deployment
        else:
            watched = await self._watched(cmd, model)
        deployments, model_row = await self._baseline_of(cmd, model, watched)
        roles = ("production", "development")
        target = cmd.target if watched is None or cmd.target in roles or cmd.target.startswith(ENV) else watched.id
        _, before = await self._store.subscriptions.subscribe(
            team_id=actor.team_id,
            channel_id=actor.channel_id,
            model_id=model.id,
            model_name=model.display_name,
            target=target,
            target_name=watched.name if watched is not None else "",
            kinds=cmd.kinds,
            thread=cmd.thread,
            user_id=actor.user_id,
            stuck_after=cmd.stuck_after,
            guard=cmd.guard,
            remind=None if cmd.remind is None else (int(cmd.remind[0].total_seconds()), cmd.remind[1]),
            baseline=[snap_of(d, self._now()) for d in deployments],
            model_row=model_row,
        )
        what = f"*{mrkdwn(model.display_name)}* / " + describe_target(
            target, watched.name if watched is not None else "", model.id
        )
        if before is not None:
            changed = option_changes(before, cmd)
            if not changed:
                return cards.answer(f"This channel is already subscribed to {what}; nothing changed."), "ephemeral"
            return (
                cards.lines_message(
                    [f":gear: <@{escape(actor.user_id)}> changed this channel's subscription to {what}: {changed}."],
                    "Changed the subscription to " + line(model.display_name),
                ),
                "in_channel",
            )
        lines = subscribed_lines(cmd, actor.user_id, what, watched, deployments)
        return cards.lines_message(lines, "Subscribed this channel to " + line(model.display_name)), "in_channel"

    async def _watched(self, cmd: Subscribe, model: Model) -> Deployment | None:
        """The one deployment a subscription names, if it names one; its id must be one the bot can poll."""
        if cmd.target == WHOLE_MODEL:
            return None
        watched = await resolve_deployment(self._client, model, cmd.target)
        if cmd.target not in ("production", "development"):  # polled by its id, not through the list
            check_plain_id(
                "deployment",
                watched.display_name,
                watched.id,
                f"it can't watch it on its own; `/baseten subscribe {model.id}` watches it with the rest of the model.",
            )
        return watched

    async def _baseline_of(
        self, cmd: Subscribe, model: Model, watched: Deployment | None
    ) -> tuple[list[Deployment], ModelRow | None]:
        """What the subscription starts from: every deployment, with the roles, when it follows the list."""
        if cmd.target not in (WHOLE_MODEL, "production", "development") and not cmd.target.startswith(ENV):
            return ([watched] if watched is not None else []), None
        try:
            deployments = await self._client.list_deployments(model.id, interactive=True)
        except BasetenError as exc:
            raise LookupFailed(f"Can't subscribe right now: {explain(exc)}") from None
        prod = next((d.id for d in deployments if d.is_production), None)
        dev = next((d.id for d in deployments if d.is_development), None)
        return deployments, (model.id, model.display_name, prod, dev)

    async def check_channel(self, channel_id: str) -> None:
        """Refuses a channel the bot can't post in: a private one it is not in (or can't even see).

        A public channel needs no invitation (chat:write.public). When Slack can't say, the
        subscription goes ahead; a later refusal from Slack pauses it and `list` says why.
        """
        if self._slack is None:
            return
        try:
            reply = await self._slack.conversations_info(channel=channel_id)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error == "channel_not_found":
                raise LookupFailed(NOT_IN_CHANNEL) from None
            log.warning("Slack would not describe channel %s (%s); subscribing anyway", channel_id, error)
            return
        except Exception as exc:  # noqa: BLE001 - Slack unreachable: go ahead, as above
            log.warning("Slack would not describe channel %s (%s); subscribing anyway", channel_id, exc)
            return
        info = reply.get("channel") or {}
        private = bool(info.get("is_private") or info.get("is_group") or info.get("is_mpim"))
        if private and info.get("is_member") is False:
            raise LookupFailed(NOT_IN_CHANNEL)

    async def unsubscribe(self, cmd: Unsubscribe, actor: Actor) -> Answer:
        found = await self._matching(cmd.model, cmd.target, actor, any_target=False)
        label = typed(cmd.model, cmd.target)
        if not found:
            return cards.answer(f"This channel is not subscribed to {label}; nothing changed."), "ephemeral"
        await self._store.subscriptions.unsubscribe([s.id for s in found])
        name = found[0].model_name or found[0].model_id
        what = f"*{mrkdwn(name)}* / " + describe_target(found[0].target, found[0].target_name, found[0].model_id)
        return (
            cards.lines_message(
                [f":no_bell: <@{escape(actor.user_id)}> unsubscribed this channel from {what}."],
                "Unsubscribed from " + line(name),
            ),
            "in_channel",
        )

    async def list_channel(self, actor: Actor) -> Message:
        views = await self._store.subscriptions.channel_subscriptions(actor.team_id, actor.channel_id)
        digest = await self._store.digests.get(actor.team_id, actor.channel_id)
        now = self._now()
        shown = [digest_line(digest, now)] if digest is not None else []
        if not views:
            none = "This channel has no subscriptions. Add one with `/baseten subscribe MODEL`."
            return cards.lines_message([none, *shown], none) if shown else cards.info(none)
        lines = [f"*This channel's subscriptions ({len(views)})*", *shown]
        for view in views[:MAX_LIST_LINES]:
            lines.append(list_line(view, now))
        if len(views) > MAX_LIST_LINES:
            lines.append(f"…and {len(views) - MAX_LIST_LINES} more.")
        names = {v.model_id: v.model_name or v.model_id for v in views}
        for m in await self._store.mutes.channel_mutes(actor.team_id, actor.channel_id):
            if not any(v.model_id == m.model_id and m.target in (WHOLE_MODEL, v.target) for v in views):
                lines.append(mute_line(names.get(m.model_id, m.model_id), m))  # shown on no subscription line
        return cards.lines_message(lines, f"{len(views)} subscription(s) in this channel")

    async def mute(self, cmd: Mute, actor: Actor) -> Answer:
        """Mutes all of a model in this channel, or one target of it, whichever subscriptions cover it."""
        subs = self._of_model(cmd.model, await self._channel(actor))
        target, target_name, heard = await self._mute_target(subs, cmd.target)
        if not heard:
            return cards.answer(f"This channel is not subscribed to {typed(cmd.model, cmd.target)}."), "ephemeral"
        until = self._now() + cmd.duration
        await self._store.mutes.mute(
            team_id=actor.team_id,
            channel_id=actor.channel_id,
            model_id=subs[0].model_id,
            target=target,
            target_name=target_name,
            until=until,
            user_id=actor.user_id,
        )
        name = subs[0].model_name or subs[0].model_id
        return (
            cards.lines_message(
                [
                    f":mute: <@{escape(actor.user_id)}> muted notices for *{mrkdwn(name)}* / "
                    f"{describe_target(target, target_name, subs[0].model_id)} until {stamp(until)}."
                ],
                f"Muted {line(name)}",
            ),
            "in_channel",
        )

    async def unmute(self, cmd: Unmute, actor: Actor) -> Answer:
        """Lifts this channel's mutes on a model (all of them), or the one on a target of it."""
        subs = self._of_model(cmd.model, await self._channel(actor))
        if not subs:
            return cards.answer(f"Nothing to unmute for {typed(cmd.model, cmd.target)} in this channel."), "ephemeral"
        model_id = subs[0].model_id
        name = subs[0].model_name or model_id
        target = None if cmd.target == WHOLE_MODEL else (await self._mute_target(subs, cmd.target))[0]
        lifted = await self._store.mutes.unmute(actor.team_id, actor.channel_id, model_id, target)
        if not lifted:
            held = await self._store.mutes.channel_mutes(actor.team_id, actor.channel_id)
            muted = "; ".join(
                f"{describe_target(m.target, m.target_name, m.model_id)} until {stamp(m.until)}"
                for m in held
                if m.model_id == model_id
            )
            hint = f" Muted here: {muted}." if muted else ""
            nothing = f"Nothing to unmute for {typed(cmd.model, cmd.target)} in this channel."
            return cards.lines_message([nothing + hint], "Nothing to unmute"), "ephemeral"
        what = "" if target is None else " / " + describe_target(lifted[0].target, lifted[0].target_name, model_id)
        return (
            cards.lines_message(
                [f":loud_sound: <@{escape(actor.user_id)}> unmuted *{mrkdwn(name)}*{what}."],
                f"Unmuted {line(name)}",
            ),
            "in_channel",
        )

    async def resume(self, cmd: Resume, actor: Actor) -> Answer:
        found = await self._matching(cmd.model, cmd.target, actor, any_target=cmd.target == WHOLE_MODEL)
        paused = [s for s in found if s.paused_reason]
        if not paused:
            none = f"No paused subscription to {typed(cmd.model, cmd.target)} in this channel."
            return cards.answer(none), "ephemeral"
        await self._store.subscriptions.resume_channel(actor.team_id, actor.channel_id, [s.id for s in paused])
        name = paused[0].model_name or paused[0].model_id
        return (
            cards.lines_message(
                [
                    f":arrow_forward: <@{escape(actor.user_id)}> resumed {len(paused)} subscription(s) to "
                    f"*{mrkdwn(name)}*. Changes made while paused are not replayed."
                ],
                f"Resumed {line(name)}",
            ),
            "in_channel",
        )

    async def _channel(self, actor: Actor) -> list[SubscriptionView]:
        return await self._store.subscriptions.channel_subscriptions(actor.team_id, actor.channel_id)

    @staticmethod
    def _of_model(token: str, views: list[SubscriptionView]) -> list[SubscriptionView]:
        """This channel's subscriptions to the model typed (id or name); empty when none."""
        found = [v for v in views if names(token, v)]
        if len({v.model_id for v in found}) > 1:
            exact = [v for v in found if own_id(v.model_id) == split_typed(token)[1]]
            if exact:
                return exact
            ids = ", ".join(sorted({f"`{v.model_id}`" for v in found}))
            raise LookupFailed(f"This channel follows several models named `{token}`; use an id instead: {ids}.")
        return found

    async def _mute_target(self, subs: list[SubscriptionView], typed: str) -> tuple[str, str, bool]:
        """What a mute of `typed` records (`*`, production, development or a deployment id), its name,
        and whether any of this channel's subscriptions to the model hears it."""
        if not subs:
            return typed, "", False
        if typed == WHOLE_MODEL:
            return WHOLE_MODEL, "", True
        whole = any(v.target == WHOLE_MODEL for v in subs)
        if typed.startswith(ENV):
            return typed, "", whole or any(v.target == typed for v in subs)
        if typed in ("production", "development"):
            if whole or any(v.target == typed for v in subs):
                return typed, "", True
            known = await self._store.subscriptions.known_deployments(subs[0].model_id)
            role = known.production_id if typed == "production" else known.development_id
            return typed, "", role is not None and any(v.target == role for v in subs)
        for v in subs:
            if v.target not in (WHOLE_MODEL, "production", "development") and typed in (v.target, v.target_name):
                return v.target, v.target_name, True
        known = await self._store.subscriptions.known_deployments(subs[0].model_id)
        found = next((d for d in known.deployments if d[0] == typed), None) or next(
            (d for d in known.deployments if d[1] == typed), None
        )
        if found is None:
            return typed, "", False
        dep_id, dep_name = found
        roles = {"production": known.production_id, "development": known.development_id}
        return dep_id, dep_name, whole or any(roles.get(v.target) == dep_id for v in subs)

    async def _matching(self, model: str, target: str, actor: Actor, *, any_target: bool) -> list[SubscriptionView]:
        views = await self._store.subscriptions.channel_subscriptions(actor.team_id, actor.channel_id)
        return [v for v in views if names(model, v) and (any_target or target in (v.target, v.target_name))]


def names(token: str, view: SubscriptionView) -> bool:
    """Whether what was typed (a model, `chain:CHAIN` or `training:PROJECT`, by id or by name) is this
    subscription's subject: of the same kind, and its own id or its name (a chain `rag` is not the model `rag`)."""
    kind, own = split_typed(token)
    return kind_of(view.model_id) is kind and own in (own_id(view.model_id), view.model_name)
