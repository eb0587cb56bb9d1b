"""The confirming click, as one path: claim the card, check it, send once, record, answer.

    done = await Clicks(...).act(verb, target, shown, click)

The decisions are the pure table's (bot.actions.checks); this module does the I/O around them.
Every click is answered, and each answer says what happened:

- the card was used before (a double click, a redelivery, a replay): nothing more was sent;
- the claim could not be recorded: nothing was sent, and the card still works;
- the card is too old, or what it showed changed, or it could not be checked: nothing was
  sent, the answer says why and, where there is one, offers a fresh card;
- the request could not be built: nothing was sent;
- Baseten answered, or did not: said as given, and, if the record of it then failed, that too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bot.actions import buttons
from bot.actions.answers import Outcome, outcome
from bot.actions.checks import (
    CLAIMED,
    FAILED,
    GONE,
    SPENT,
    TAKEN,
    UNRECORDED,
    Seen,
    Shown,
    Verdict,
    min_replica_of,
    on_claim,
    on_read,
    role_of,
)
from bot.actions.verbs import Target, Verb
from bot.baseten.client import BasetenClient
from bot.baseten.errors import NotFound
from bot.baseten.models import Deployment, Environment
from bot.render.cards import Message
from bot.store.actions import ActionLog, Click

log = logging.getLogger(__name__)

NOT_RECORDED = "The bot could not record it; nothing was sent. Try again in a moment: this card still works."
USED = "This card was already used; nothing more was sent."
RECORD_FAILED = "but the record failed"  # appended to Baseten's answer when the bot could not record it


@dataclass(frozen=True)
class Done:
    """The answer to one click."""

    message: Message
    replace: bool  # it replaces the confirmation card (the card is spent), else it goes beside it
    outcome: Outcome | None = None  # Baseten's answer: the channel hears it too
    override: str = ""  # mrkdwn: the freeze an admin's card acted through, for the channel's line
    action_id: int | None = None  # the action's row, when the click claimed one


class Clicks:
    def __init__(
        self,
        *,
        client: BasetenClient,
        actions: ActionLog,
        now: Callable[[], datetime],
        fresh: Callable[[Verb, Target], Awaitable[Message]],
    ) -> None:
        self.client = client
        self.actions = actions
        self._now = now
        self._fresh = fresh

    async def act(
        self,
        verb: Verb,
        target: Target,
        shown: Shown,
        click: Click,
        *,
        held: tuple[str, str, Message] | None = None,
        then: Callable[[int], Awaitable[Done]] | None = None,
        key: str = "",
    ) -> Done:
        """`held`: something holds it (the outcome recorded, `frozen`, the words recorded, and the answer):
        the card is spent on it, and nothing is sent. `then`: what a checked click does instead of sending
        (an approval request), given the action's row. `key`: the claim's own key instead of the card's
        (an approved request's run): then the card's age is not checked (the request's is, before) and
        no fresh card is offered (the approver did not ask for one)."""
        claim, action_id = await self._claim(click, key or shown.card)
        verdict = on_claim(claim, shown, self._now(), aged=not key)
        if verdict.kind == UNRECORDED:
            return Done(buttons.note(NOT_RECORDED), replace=False)
        if verdict.kind == SPENT:
            log.info(
                "ignored a repeat of %s on %s by %s: card %s was used",
                verb.name,
                _of(target),
                click.user_id,
                shown.card,
            )
            return Done(buttons.note(USED), replace=False)
        if verdict.go and held is not None:
            await self._finish(action_id, status_code=None, outcome=held[0], reason=held[1], answer="")
            log.info("action %s on %s by %s not sent: %s", verb.name, _of(target), click.user_id, held[1])
            return Done(held[2], replace=True, action_id=action_id)
        if verdict.go:
            seen = await self._seen(verb, target)
            if seen is None:
                why = f"the bot could not read {target.label} from Baseten to check it first"
                return await self._not_sent(action_id, verb, target, click, Verdict("unchecked", why), fresh=False)
            verdict = on_read(verb, target, shown, seen)
        if not verdict.go:
            fresh = verdict.kind != GONE and not key
            return await self._not_sent(action_id, verb, target, click, verdict, fresh=fresh)
        if then is not None:
            return await then(action_id)
        return await self._send(action_id, verb, target, click)

    async def _claim(self, click: Click, card: str) -> tuple[str, int]:
        """CLAIMED with the row's id, TAKEN (claimed before), or FAILED (the claim could not be written)."""
        try:
            action_id = await self.actions.claim(click, card)
        except Exception as exc:  # noqa: BLE001 - any database failure: nothing is sent, the user is told
            log.warning(
                "could not record %s by %s, so nothing was sent: %s", click.verb, click.user_id, type(exc).__name__
            )
            return FAILED, 0
        return (TAKEN, 0) if action_id is None else (CLAIMED, action_id)

    async def _seen(self, verb: Verb, target: Target) -> Seen | None:
        """The target as Baseten shows it now; None when it cannot be read (then nothing is sent)."""
        try:
            if not verb.needs_deployment:
                return _promotion(await self._environment(target))
            dep = await self._deployment(target)
            env = await self._environment(target) if verb.name == "rollback" else None
        except Exception as exc:  # noqa: BLE001 - cannot check: do not act on a guess
            log.warning("could not check %s on %s before acting: %s", verb.name, _of(target), type(exc).__name__)
            return None
        current = env.current_deployment if env is not None else None
        return Seen(
            dep.status if dep is not None else None,
            role_of(dep) if dep is not None else "",
            current=current.id if current is not None else None,
            current_name=current.display_name if current is not None else "",
            min_replica=min_replica_of(dep) if dep is not None else None,
        )

    async def _deployment(self, target: Target) -> Deployment | None:
        try:
            return await self.client.get_deployment(target.model_id, target.deployment_id, interactive=True)
        except NotFound:
            return None

    async def _environment(self, target: Target) -> Environment | None:
        try:
            return await self.client.get_environment(target.model_id, target.environment, interactive=True)
        except NotFound:
            return None

    async def _not_sent(
        self, action_id: int, verb: Verb, target: Target, click: Click, verdict: Verdict, *, fresh: bool
    ) -> Done:
        """Nothing is sent: recorded (if the database lets it), said with why and, if `fresh`, a new card."""
        await self._finish(action_id, status_code=None, outcome=verdict.kind, reason=verdict.why, answer="")
        log.info("action %s on %s by %s not sent: %s", verb.name, _of(target), click.user_id, verdict.why)
        card = None
        if fresh:
            try:
                card = await self._fresh(verb, target)
            except Exception as exc:  # noqa: BLE001 - the answer stands without a fresh card
                log.info("no fresh card for %s on %s: %s", verb.name, _of(target), type(exc).__name__)
        return Done(buttons.instead(verdict.why, card), replace=True, action_id=action_id or None)

    async def _send(self, action_id: int, verb: Verb, target: Target, click: Click) -> Done:
        """The one request, and its answer recorded; a request the bot cannot build is not sent."""
        try:
            path, payload = verb.request(target)
        except ValueError:
            why = "the bot could not build the request for it"
            return await self._not_sent(action_id, verb, target, click, Verdict("unsent", why), fresh=False)
        status_code, body = None, None
        try:
            status_code, body = await self.client.act(path, payload, method=verb.method)
        except ValueError:  # the client refused the path before sending anything
            why = "the bot could not build the request for it"
            return await self._not_sent(action_id, verb, target, click, Verdict("unsent", why), fresh=False)
        except Exception as exc:  # noqa: BLE001 - no answer: never retried, said as unknown
            log.warning("action %s on %s: no answer from Baseten (%s)", verb.name, target.model_id, type(exc).__name__)
        out = outcome(verb.read, status_code, body)
        state = "accepted" if out.accepted else "unknown" if status_code is None else "refused"
        if not await self._finish(
            action_id, status_code=status_code, outcome=state, reason=out.words, answer=out.answer
        ):
            out = replace(out, words=f"{out.words}, {RECORD_FAILED}")
        log.info(
            "action %s on model %s deployment %s (%s) by %s in %s: %s, Baseten answered %s: %s",
            verb.name,
            target.model_id,
            target.deployment_id or "-",
            target.environment,
            click.user_id,
            click.channel_id,
            state,
            status_code if status_code is not None else "nothing",
            out.words,
        )
        message = buttons.outcome_card(click.user_id, verb, target, out)
        return Done(message, replace=True, outcome=out, action_id=action_id)

    async def _finish(self, action_id: int, *, status_code: int | None, outcome: str, reason: str, answer: str) -> bool:
        try:
            await self.actions.finish(action_id, status_code=status_code, outcome=outcome, reason=reason, answer=answer)
        except Exception as exc:  # noqa: BLE001 - said in the answer; Baseten's answer is in the log line
            log.error("could not record the outcome of action %s (%s): %s", action_id, outcome, type(exc).__name__)
            return False
        return True


def _promotion(env: Environment | None) -> Seen:
    """An environment's promotion as a promotion control's card showed it: status, and candidate as role."""
    promotion = env.in_progress_promotion if env is not None else None
    if env is None or promotion is None:
        return Seen(None)
    candidate = env.candidate_deployment
    return Seen(promotion.status, candidate.id if candidate else "", candidate.display_name if candidate else "")


def _of(target: Target) -> str:
    return f"{target.model_id}/{target.deployment_id or target.environment}"
