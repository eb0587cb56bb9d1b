"""Acting on deployments: the confirmation card, then, on the click, one request to Baseten.

    card = await ops.confirm_command(act)              # a typed command: looks the deployment up
    card = await ops.confirm_button(verb, target)       # an ask button on a card or a notice
    done = await ops.perform(verb, target, shown, click)  # the do button (bot.actions.clicks)
    decided = await ops.requests.approve(approval_id, user)  # an APPROVAL_REQUIRED pair's Approve
    await ops.announce(click, verb, target, out)        # one line in the channel, in the thread

Every card has its own id and carries what it showed (bot.actions.checks.Shown), so the click
acts once and only on that. Who may act is the caller's check (bot.slack.actions), made
before anything here runs; at the click, with group memberships read from Slack then.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.actions import buttons
from bot.actions.answers import Outcome
from bot.actions.approvals import ApprovalFlow
from bot.actions.checks import MAX_FREEZES, Shown, min_replica_of, role_of
from bot.actions.clicks import Clicks, Done
from bot.actions.rules import Pairs, environments_of, needs_approval
from bot.actions.verbs import PRODUCTION, SCALE_TO_ZERO, VERBS, Target, Verb, fits
from bot.baseten.client import BasetenClient
from bot.baseten.models import Deployment, Model
from bot.commands.lookup import check_plain_id, resolve_deployment, resolve_environment, resolve_model
from bot.commands.typed import Act
from bot.domain.changes import THREAD_AGE
from bot.domain.freezes import Freeze, holding_all, refuses
from bot.domain.status import FAILURES
from bot.domain.subjects import kind_of
from bot.render import freezes
from bot.render.cards import Message
from bot.render.text import escape, inline, mrkdwn
from bot.store import Store
from bot.store.actions import Click

log = logging.getLogger(__name__)
IN_IM = (
    "This action needs a second operator's approval (APPROVAL_REQUIRED), and approvals need a channel others "
    "can see: nobody else can approve it in a direct message with the bot. Nothing was sent or requested; "
    "ask in a channel."
)


class Operators(Protocol):
    """Who may act (OPERATOR_USER_IDS): bot.slack.admins.AllowList, read by the listeners."""

    @property
    def anyone(self) -> bool: ...

    def settled(self, user: str) -> bool | None: ...

    async def allows(self, user: str) -> bool: ...

    async def confirms(self, user: str) -> bool | None: ...


class Operations:
    def __init__(
        self,
        *,
        client: BasetenClient,
        store: Store,
        operators: Operators,
        slack: AsyncWebClient | None,
        now: Callable[[], datetime],
        admins: Operators | None = None,
        approvals: Pairs = frozenset(),
        approval_ttl: timedelta = timedelta(minutes=30),
    ) -> None:
        self.client = client
        self.store = store
        self.actions = store.actions
        self.operators = operators
        self.admins = admins  # ADMIN_USER_IDS: who may `--override` a freeze; None: nobody
        self.required = approvals  # APPROVAL_REQUIRED
        self._slack = slack
        self._now = now
        self._clicks = Clicks(client=client, actions=store.actions, now=now, fresh=self.fresh_card)
        self.requests = ApprovalFlow(store=store, slack=slack, now=now, ttl=approval_ttl, gate=self.gated)

    @property
    def buttons(self) -> bool:
        """Action buttons are shown only when somebody may use them (OPERATOR_USER_IDS is set)."""
        return self.operators.anyone

    # -- the confirmation card ------------------------------------------------------

    async def confirm_command(self, act: Act) -> Message:
        """The card for a typed action; during a freeze, the refusal instead, unless `--override` (whose
        caller checked the user is an admin: bot.slack.actions)."""
        model = await resolve_model(self.client, act.model)
        environment = await self._environment(model, act.environment)
        ask = Ask(override=act.override, reason=act.reason)
        if act.verb == "rollback":
            return await self._rollback_card(model, environment, ask=ask)
        return await self._card(VERBS[act.verb], model, act.deployment, environment, ask=ask)

    async def frozen(self, verb: Verb, model_id: str, environments: Sequence[str]) -> list[tuple[Freeze, datetime]]:
        """The freezes that hold this action now (in any of its environments, bot.actions.rules), the one
        ending last first, if the verb is one a freeze refuses."""
        if not refuses(verb.name):
            return []
        return holding_all(await self.store.freezes.live(), model_id, environments, self._now())

    async def _held(self, verb: Verb, model_id: str, environments: Sequence[str], ask: Ask) -> Message | Ask:
        """A card's freeze check: the refusal, or the card's Ask (an admin's `--override`: with the notes
        that say so and the ids of the freezes it acts through, only those; none holding: no override)."""
        holds = await self.frozen(verb, model_id, environments)
        if not holds:
            return replace(ask, override=False)
        if not ask.override:
            return buttons.frozen(freezes.refusal(*holds[0], verb.label))
        notes = tuple(freezes.overriding(*hold) for hold in holds[:MAX_FREEZES])
        return replace(ask, notes=(*notes, *ask.notes), freezes=tuple(f.id for f, _ in holds[:MAX_FREEZES]))

    async def _environment(self, model: Model, name: str) -> str:
        """The environment as Baseten names it, found as `status` finds it (case-insensitive); a name the
        model lacks is answered with the ones it has (LookupFailed). Production is always there."""
        if name == PRODUCTION:
            return name
        env = await resolve_environment(self.client, model, name)
        check_plain_id("environment", env.name, env.name, "it can't act on it from Slack.")
        return env.name

    async def confirm_button(self, verb: Verb, target: Target) -> Message:
        """From a button on a card or a notice, which may be old: built from the status now; during a
        freeze, the refusal (an override is typed, not clicked)."""
        model = await resolve_model(self.client, target.model_id)
        if verb.name == "rollback":  # from a failing deployment's notice or card: it must still be current
            return await self._rollback_card(model, target.environment, source=target.deployment_id)
        if not verb.needs_deployment:
            return await self._promotion_card(verb, model, target.environment)
        return await self._card(verb, model, target.deployment_id, target.environment)

    async def fresh_card(self, verb: Verb, target: Target) -> Message:
        """The card again, as things are now, in place of one whose click sent nothing (stale, too old)."""
        model = await resolve_model(self.client, target.model_id)
        if verb.name == "rollback":  # only while the environment is as the card found it
            return await self._rollback_card(model, target.environment, source=target.expect)
        if not verb.needs_deployment:
            return await self._promotion_card(verb, model, target.environment)
        return await self._card(verb, model, target.deployment_id, target.environment)

    def _shown(self, status: str, role: str = "", min_replica: int | None = None, ask: Ask | None = None) -> Shown:
        """A new card: its own id, drawn now (whole seconds, as its button carries it)."""
        ask = ask or Ask()
        drawn = self._now().replace(microsecond=0)
        return Shown(secrets.token_hex(8), drawn, status, role, min_replica, ask.override, ask.reason, ask.freezes)

    async def _promotion_card(self, verb: Verb, model: Model, environment: str) -> Message:
        """A promotion's control, from its message: built from the environment as Baseten shows it now."""
        refused = await self._held(verb, model.id, (environment,), Ask())
        if isinstance(refused, Message):
            return refused
        env = await self.client.get_environment(model.id, environment, interactive=True)
        promotion, candidate = env.in_progress_promotion, env.candidate_deployment
        if promotion is None or candidate is None:
            return buttons.note(
                f"No promotion is in progress in {environment} of {inline(model.display_name)} now, so there is "
                f"nothing to {verb.label.lower()}. Nothing was changed."
            )
        check_plain_id("deployment", candidate.display_name, candidate.id, "it can't act on it from Slack.")
        target = Target(model.id, candidate.id, environment, model.display_name, candidate.display_name)
        traffic = promotion.percent_traffic_to_new_version
        notes = [] if traffic is None else [f"Traffic to `{mrkdwn(candidate.display_name, 60)}`: {traffic}%"]
        if not fits(verb.name, promotion.status, production=False):
            notes.append(
                f":warning: the promotion is `{mrkdwn(promotion.status, 40)}`: {escape(verb.label.lower())} "
                "is not what usually fits that; Baseten may refuse."
            )
        return buttons.confirmation(verb, target, self._shown(promotion.status), notes=notes)

    async def _card(self, verb: Verb, model: Model, typed: str, environment: str, *, ask: Ask | None = None) -> Message:
        dep = await resolve_deployment(self.client, model, typed)
        check_plain_id("deployment", dep.display_name, dep.id, "it can't act on it from Slack.")
        target = Target(model.id, dep.id, environment, model.display_name, dep.display_name)
        low = min_replica_of(dep) if verb.name == SCALE_TO_ZERO else None
        if verb.name == SCALE_TO_ZERO and (low is None or low <= 0):
            said = "not given by Baseten" if low is None else f"{low} already"
            return buttons.note(
                f"The minimum replicas of {inline(dep.display_name)} of {inline(model.display_name)} is {said}, "
                "so there is nothing to scale to zero. Nothing was changed."
            )
        held = await self._held(verb, model.id, environments_of(verb, environment, role_of(dep)), ask or Ask())
        if isinstance(held, Message):
            return held
        notes = list(held.notes)
        if not fits(verb.name, dep.status, production=bool(dep.is_production), kind=kind_of(model.id)):
            notes.append(
                f":warning: `{mrkdwn(dep.display_name, 60)}` is `{mrkdwn(dep.status, 40)}`: "
                f"{escape(verb.label.lower())} is not what usually fits that status; Baseten may refuse."
            )
        return buttons.confirmation(verb, target, self._shown(dep.status, role_of(dep), low, held), notes=notes)

    async def _rollback_card(
        self, model: Model, environment: str, *, source: str = "", ask: Ask | None = None
    ) -> Message:
        """Rolls back only what the latest promotion the bot saw put there, while it is still current:
        never from a stale notice, nor after the environment moved on, nor to a deployment a rollback
        replaced (rolling back a rollback would put the failing deployment back)."""
        previous = await self.actions.previous_of(model.id, environment)
        if previous is None:
            return buttons.note(
                f"The bot never saw a promotion in {environment} of {inline(model.display_name)}, so it does not know "
                "what to roll back to. Nothing was changed; `/baseten promote MODEL DEPLOYMENT` promotes "
                "a deployment you choose."
            )
        if previous.deployment_id is None:
            return buttons.note(
                f"The bot saw {inline(previous.promoted_name)} promoted in {environment} of "
                f"{inline(model.display_name)}, but not which deployment was current before it. Nothing was changed."
            )
        current = await self._current(model.id, environment)
        if current != previous.promoted_id or (source and source != previous.promoted_id):
            return buttons.note(
                f"{environment} of {inline(model.display_name)} is not as the latest promotion the bot saw left it "
                f"({inline(previous.promoted_name)}), so the bot will not guess what to roll back to. Nothing was "
                "changed; `/baseten rollback MODEL` shows what a rollback would do now, and "
                "`/baseten promote MODEL DEPLOYMENT` promotes a deployment you choose."
            )
        if previous.by_rollback:
            return buttons.note(
                f"The latest promotion in {environment} of {model.display_name} was a rollback to "
                f"{previous.promoted_name}, which replaced {previous.deployment_name}; a rollback never puts "
                f"back a deployment a rollback replaced. Nothing was changed; `/baseten promote MODEL "
                f"{previous.deployment_name}` does it if you mean it."
            )
        held = await self._held(VERBS["rollback"], model.id, (environment,), ask or Ask())
        if isinstance(held, Message):
            return held
        dep = await resolve_deployment(self.client, model, previous.deployment_id)
        target = Target(model.id, dep.id, environment, model.display_name, dep.display_name, previous.promoted_id)
        label = mrkdwn(model.display_name, 60)
        notes = [
            f"It was current in {mrkdwn(environment)} before `{mrkdwn(previous.promoted_name, 60)}` "
            f"was promoted there (the latest promotion of *{label}* the bot saw).",
            *held.notes,
        ]
        if dep.status in FAILURES:
            notes.append(
                f":warning: `{mrkdwn(dep.display_name, 60)}` is `{mrkdwn(dep.status, 40)}` itself: "
                f"rolling back puts a failing deployment in {mrkdwn(environment)}."
            )
        shown = self._shown(dep.status, role_of(dep), ask=held)
        return buttons.confirmation(VERBS["rollback"], target, shown, notes=notes)

    async def _current(self, model_id: str, environment: str) -> str | None:
        """The deployment current in the environment, as Baseten shows it now."""
        env = await self.client.get_environment(model_id, environment, interactive=True)
        return env.current_deployment.id if env.current_deployment is not None else None

    # -- the click ------------------------------------------------------------------

    async def perform(self, verb: Verb, target: Target, shown: Shown, click: Click) -> Done:
        """The do button: claims the card, checks it still shows the truth and that no freeze holds it
        (or that an admin's card overrides it, the admin read again now), sends once, records. On an
        APPROVAL_REQUIRED pair, the checked card becomes a request in the channel instead of a request
        to Baseten (bot.actions.approvals); its approval comes back through `gated`. The pair's
        environments are the card's (bot.actions.rules.environments_of), its role re-checked at the click."""
        if not needs_approval(self.required, verb.name, environments_of(verb, target.environment, shown.role)):
            return await self.gated(verb, target, shown, click, admin=click.user_id)
        if click.channel_id.startswith("D"):  # an IM with the bot: nobody else could see, let alone approve it
            log.info("refused a request for approval of %s by %s in an IM: nothing recorded", verb.name, click.user_id)
            return Done(buttons.note(IN_IM), replace=True)
        return await self.gated(verb, target, shown, click, admin=click.user_id, request=True)

    async def gated(
        self,
        verb: Verb,
        target: Target,
        shown: Shown,
        click: Click,
        *,
        admin: str,
        request: bool = False,
        key: str = "",
    ) -> Done:
        """Freezes, then the click path (bot.actions.clicks): `admin` is whose `--override` on the card
        counts (the clicker; for an approved request, its requester), read again now, and only through
        the freezes the card was drawn for; `request`: a checked click becomes an approval request;
        `key`: the claim's own key (an approved request's run)."""
        holds = await self.frozen(verb, target.model_id, environments_of(verb, target.environment, shown.role))
        note = ""
        if holds:
            new = [hold for hold in holds if hold[0].id not in shown.freezes]
            if not shown.override or new or self.admins is None or not await self.admins.confirms(admin):
                words = freezes.new_freeze(*new[0], verb.label) if shown.override and new else None
                refusal = words or freezes.refusal(*holds[0], verb.label)
                held = ("frozen", freezes.recorded(*(new or holds)[0]), buttons.frozen(refusal))
                return await self._clicks.act(verb, target, shown, click, held=held, key=key)
            click = replace(click, override=freezes.recorded_by(holds, admin))
            note = "\n".join(freezes.overriding(*hold) for hold in holds)
        then: Callable[[int], Awaitable[Done]] | None = None
        if request:

            async def then(action_id: int) -> Done:
                return await self.requests.made(action_id, verb, target, shown, click, override=note)

        done = await self._clicks.act(verb, target, shown, click, then=then, key=key)
        return replace(done, override=note) if note else done

    async def announce(self, click: Click, verb: Verb, target: Target, out: Outcome, *, override: str = "") -> None:
        """One line in the channel, in the deployment's notice thread when it has one there (and, for an
        override of a freeze, in the channel itself: everyone there should know)."""
        if self._slack is None or not click.channel_id:
            return
        said = buttons.channel_line(click.user_id, verb, target, out, override=override)
        thread_ts = None if override else await self._thread(click, verb, target)
        try:
            await self._slack.chat_postMessage(
                channel=click.channel_id,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
                **said.as_kwargs(),
            )
        except Exception as exc:  # noqa: BLE001 - the outcome is on the card and in the record already
            log.info("could not post the outcome line in %s: %s", click.channel_id, type(exc).__name__)

    async def _thread(self, click: Click, verb: Verb, target: Target) -> str | None:
        """The promotion's live message for its controls; else the deployment's notice thread, if any."""
        if not target.deployment_id:
            return None
        if not verb.needs_deployment:
            return await self.store.promotions.of_candidate(
                click.team_id, click.channel_id, target.model_id, target.deployment_id, max_age=THREAD_AGE
            )
        for deployment in (target.expect, target.deployment_id):  # a rollback: where the failing one was told
            if not deployment:
                continue
            thread = await self.store.threads.thread(click.team_id, click.channel_id, deployment, max_age=THREAD_AGE)
            if thread is not None:
                return thread.ts
        return None


@dataclass(frozen=True)
class Ask:
    """What a typed action adds to its card: `--override` of the freeze holding it, with the notes that
    say so, and the reason typed with it."""

    override: bool = False
    reason: str = ""
    notes: tuple[str, ...] = ()
    freezes: tuple[int, ...] = ()  # the ids of the freezes the override acts through


def deployment_target(dep: Deployment, model_name: str) -> Target:
    return Target(dep.model_id, dep.id, PRODUCTION, model_name, dep.display_name)
