"""The promotion guard's periodic pass (issue 24; CONTRACT.md "The promotion guard"), on the lease holder.

Every GUARD_SECONDS:

1. the subscriptions that guard an environment (bot.guard.plan.guarded) and what the poller
   last saw of those environments (its stored states, so no extra environment reads);
2. a comparison per promotion under way, and per promotion that made another deployment current
   within GUARD_AFTER_MINUTES (bot.guard.plan), recorded when first seen (bot.store.guard_checks);
3. two metric reads per comparison (`SUMMARY`, the candidate's and the baseline's windows), inside
   the client's shared rate budget; an error is a window with no values and the reason, so the
   verdict is `watch`, never `failing` (bot.domain.guard);
4. each channel's live message shows the verdict by its own spec (an edit when the verdict changes,
   else at most once a REFRESH);
5. a spec whose verdict is `failing` is announced once per comparison through the outbox, to the
   channels with that spec that hear it (mutes and `--on` apply), in the channel itself; with
   `auto-pause` the guard first pauses the promotion, once in all replicas, as an action by "the
   promotion guard" that goes through the click path (claimed, re-checked against Baseten, recorded).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions.buttons import promotion_buttons
from bot.actions.checks import Shown
from bot.actions.clicks import Clicks
from bot.actions.verbs import VERBS, Target
from bot.baseten.client import BasetenClient
from bot.baseten.errors import AuthError, BasetenError, NotFound, RateLimited, Unavailable
from bot.baseten.metrics import to_window
from bot.delivery.errors import slack_error
from bot.delivery.promotions import GONE, edit, live_lock
from bot.domain.changes import GUARD, Change
from bot.domain.guard import ROLLOUT, Check, GuardSpec, Verdict, Window, describe, unavailable, verdict
from bot.domain.memory import Outgoing
from bot.domain.promotions import FINAL, EnvState
from bot.domain.watchers import Watcher
from bot.guard.plan import after_checks, guarded, rollout_checks, spec_of, windows
from bot.polling.audience import audience
from bot.polling.promotions import live_change
from bot.render.cards import Message
from bot.render.guard import PAUSED, baseline_word, live_blocks, verdict_line
from bot.render.guard import judged as judged_by
from bot.render.promotions import live_message
from bot.store import Store
from bot.store.actions import Click

log = logging.getLogger(__name__)

GUARD_USER = "the promotion guard"  # who the guard's own pause is recorded as
FAILING = "FAILING"  # a GUARD change's new status
READING = 4  # comparisons read at once
REFRESH = 60.0  # seconds: a live message whose verdict holds shows fresh numbers at most this often


@dataclass
class _Shown:
    """What this replica last showed of a guard on one live message."""

    verdict: str
    section: str
    at: float


class GuardJob:
    def __init__(
        self,
        *,
        store: Store,
        client: BasetenClient,
        slack: AsyncWebClient,
        now: Callable[[], datetime],
        after: timedelta,
        acting: bool,
    ) -> None:
        """`acting`: OPERATOR_USER_IDS is set, so the bot acts on deployments (and draws controls)."""
        self._store = store
        self._client = client
        self._slack = slack
        self._now = now
        self._after = after
        self._acting = acting
        self._clicks = Clicks(client=client, actions=store.actions, now=now, fresh=_no_card)
        self._shown: dict[tuple[str, str, str], _Shown] = {}
        self._reading = asyncio.Semaphore(READING)
        self._paused: dict[tuple[str, str, str], str] = {}  # the guard's pause of a comparison: how it went

    async def run(self) -> int:
        """One pass; the number of comparisons read."""
        now = self._now()
        by_env = guarded(await self._store.subscriptions.watchers(environments_only=True))
        if not by_env:
            self._forget([])
            return 0
        models = {m for m, _ in by_env}
        states = await self._store.environments.memory(models)
        checks = rollout_checks(by_env, states, now)
        if self._after > timedelta(0):
            promoted = await self._store.guard.promoted_since(models, now - self._after)
            checks += after_checks(by_env, promoted, now, self._after)
        self._forget(checks)
        if not checks:
            return 0
        await self._store.guard.begin(checks)
        known = await self._store.guard.of(checks)
        read = await asyncio.gather(*(self._read(known.get(_id(c), c), now) for c in checks))
        for check in read:
            watchers = by_env[(check.model_id, check.environment)]
            state = states.get(check.model_id, {}).get(check.environment)
            await self._judge(check, watchers, state, now)
        return len(read)

    async def _read(self, check: Check, now: datetime) -> Check:
        """Both windows read and saved; the comparison as it now stands. At most READING comparisons
        at a time: the rate limiter paces the requests, this bounds the database sessions held."""
        (c_start, c_end), (b_start, b_end) = windows(check, now)
        async with self._reading:
            candidate, baseline = await asyncio.gather(
                self._window(check.model_id, check.candidate_id, c_start, c_end),
                self._window(check.model_id, check.baseline_id, b_start, b_end),
            )
            await self._store.guard.save(check, candidate, baseline, at=now)
        return replace(check, candidate=candidate, current=baseline, checked_at=now)

    async def _window(self, model_id: str, deployment_id: str, start: datetime, end: datetime) -> Window:
        try:
            answer = await self._client.deployment_metrics(
                model_id,
                deployment_id,
                mode="SUMMARY",
                start_epoch_millis=_millis(start),
                end_epoch_millis=max(_millis(end), _millis(start) + 1),
            )
        except BasetenError as exc:
            return unavailable(_reason(exc))
        return to_window(answer)

    async def _judge(self, check: Check, watchers: Sequence[Watcher], state: EnvState | None, now: datetime) -> None:
        """Each spec's verdict: shown on each channel's live message, announced once when failing."""
        specs: dict[str, GuardSpec] = {}
        for w in watchers:
            specs.setdefault(describe(spec_of(w)), spec_of(w))
        candidate, current, word = check.candidate or Window(), check.current or Window(), baseline_word(check)
        verdicts = {text: verdict(spec, candidate, current, baseline=word) for text, spec in specs.items()}
        failing = [text for text, v in verdicts.items() if v.level == "failing" and text not in check.announced]
        told: dict[str, list[Watcher]] = {}
        for text in failing:
            probe = _notice(check, text, verdicts[text], "", state, now)
            mine = [w for w in watchers if describe(spec_of(w)) == text]
            told[text] = audience(mine, probe, production_id=None, development_id=None)
        paused = ""
        if check.phase == ROLLOUT and any(specs[text].auto_pause and told[text] for text in failing):
            paused = await self._pause(check, state, now, _model_name(watchers))  # only when someone is told
        for text in failing:
            change = _notice(check, text, verdicts[text], paused if specs[text].auto_pause else "", state, now)
            if await self._store.guard.announce(check, text, [Outgoing(change, _model_name(watchers), told[text])]):
                check = replace(check, announced=check.announced | {text})
                log.info("promotion guard: %s", change.detail.get("reasons"))
        if check.phase == ROLLOUT:
            for w in watchers:
                await self._show(check, w, spec_of(w), now)

    async def _pause(self, check: Check, state: EnvState | None, now: datetime, model_name: str) -> str:
        """The guard's one pause of this promotion: PAUSED when Baseten accepted it, else why not."""
        key = _id(check)
        if not self._acting:
            return "the bot acts on nothing while OPERATOR_USER_IDS is unset"
        if state is not None and state.status == "PAUSED":
            return "the promotion was already paused"
        if check.paused_at is not None or not await self._store.guard.claim_pause(check):
            return self._paused.get(key, "")
        name = check.candidate_name
        target = Target(check.model_id, check.candidate_id, check.environment, model_name, name)
        card = hashlib.sha256("\0".join(("guard", *key)).encode()).hexdigest()[:32]
        shown = Shown(card, now.replace(microsecond=0), state.status if state is not None and state.status else "")
        click = Click("", "", GUARD_USER, "", "pause_promotion", check.model_id, check.candidate_id, check.environment)
        done = await self._clicks.act(VERBS["pause_promotion"], target, shown, click)
        if done.outcome is not None and done.outcome.accepted:
            result = PAUSED
        elif done.outcome is not None:
            result = done.outcome.words
        else:  # nothing was sent: the click path's words, about the guard's reading rather than a card
            result = _guard_words(done.message.text)
        self._paused[key] = result
        return result

    async def _show(self, check: Check, watcher: Watcher, spec: GuardSpec, now: datetime) -> None:
        """The channel's live message, with the guard's section as this channel's spec judges it."""
        where = (watcher.team_id, watcher.channel_id, check.key)
        section = live_blocks(replace(check, checked_at=None), spec)
        judged = verdict_line(judged_by(check, spec))
        shown, clock, text = self._shown.get(where), time.monotonic(), repr(section)
        if shown is not None and (shown.section == text or (shown.verdict == judged and clock - shown.at < REFRESH)):
            return
        async with live_lock(*where):  # a step being delivered edits first; its state is then read here
            live = await self._store.promotions.find(*where)
            states = await self._store.environments.memory([check.model_id])
            state = states.get(check.model_id, {}).get(check.environment)
            if live is None or state is None or state.key != check.key or state.status is None or state.status in FINAL:
                return  # not posted yet (its first post carries the section), or ended since this pass began
            change = live_change(state, now)
            controls = promotion_buttons(change, watcher.model_name) if self._acting else []
            message = live_message(
                change,
                model_name=watcher.model_name,
                started_by=live.started_by,
                actions=controls,
                guard=live_blocks(check, spec),
            )
            try:
                await edit(self._slack, watcher.channel_id, live.ts, message)
            except Exception as exc:  # noqa: BLE001 - Slack refused or was not reached
                why = slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
                log.info("promotion guard: could not edit the live message in %s: %s", watcher.channel_id, why)
                if why not in GONE:
                    return  # the next pass edits it again; a message Slack no longer has is left to the next step
        self._shown[where] = _Shown(judged, text, clock)

    def _forget(self, checks: Sequence[Check]) -> None:
        """Drops what this replica remembers of comparisons no longer made."""
        ids, keys = {_id(c) for c in checks}, {c.key for c in checks}
        self._paused = {k: v for k, v in self._paused.items() if k in ids}
        self._shown = {k: v for k, v in self._shown.items() if k[2] in keys}


def _notice(check: Check, spec: str, v: Verdict, paused: str, state: EnvState | None, now: datetime) -> Change:
    detail: dict[str, Any] = {
        "environment": check.environment,
        "key": check.key,
        "phase": check.phase,
        "spec": spec,
        "reasons": list(v.reasons),
        "candidate": _json(check.candidate),
        "current": _json(check.current),
        "baseline_id": check.baseline_id,
        "baseline_name": check.baseline_name or None,
        "promotion_status": state.status if state is not None else None,
    }
    if paused:
        detail["paused"] = paused
    return Change(GUARD, check.model_id, check.candidate_id, check.candidate_name, None, FAILING, now, None, detail)


def _json(w: Window | None) -> dict[str, Any] | None:
    if w is None:
        return None
    return {"requests": w.requests, "errors_5xx": w.errors_5xx, "p95_seconds": w.p95_seconds}


def _model_name(watchers: Sequence[Watcher]) -> str:
    return next((w.model_name for w in watchers if w.model_name), "")


def _id(check: Check) -> tuple[str, str, str]:
    return check.model_id, check.environment, check.key


def _millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _reason(exc: BasetenError) -> str:
    """Why a window has no values, in the guard's words (shown on the live message)."""
    if isinstance(exc, AuthError):
        return f"Baseten answered {exc.status_code}: this API key may not read the deployment's metrics"
    if isinstance(exc, RateLimited):
        return "Baseten is rate limiting this API key"
    if isinstance(exc, Unavailable):
        return "Baseten did not answer"
    if isinstance(exc, NotFound):
        return "Baseten has no metrics for this deployment"
    return "Baseten's answer could not be read"


def _guard_words(text: str) -> str:
    """The click path's answer when nothing was sent, said of the guard's reading rather than of a card."""
    if "this card still works" in text:
        return "the bot could not record the pause, so nothing was sent to Baseten"
    return text.replace("this card was shown", "the guard read it")


async def _no_card(verb: object, target: object) -> Message:
    """The guard's pause offers no fresh card: nobody clicked it."""
    return Message(text="")
