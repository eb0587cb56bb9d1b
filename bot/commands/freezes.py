"""`/baseten freeze`, `unfreeze` and `freezes`: set, lift and list change freezes (issue 27).

A freeze is the workspace's, not the channel's: it holds actions typed or clicked anywhere. Setting
or lifting one is said in the channel (`in_channel`), so that the people who act there see it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bot.baseten.client import BasetenClient
from bot.baseten.models import Model
from bot.commands.lookup import LookupFailed, resolve_environment, resolve_model
from bot.commands.typed import Freeze, Unfreeze
from bot.domain.freezes import ALL
from bot.domain.freezes import Freeze as Held
from bot.render import cards
from bot.render.cards import Message
from bot.render.freezes import held, listed, who
from bot.render.text import escape, line, mrkdwn
from bot.store import Store

Answer = tuple[Message, str]  # the message, and its response type
MAX_LISTED = 40


async def freeze(
    cmd: Freeze,
    *,
    client: BasetenClient,
    store: Store,
    now: Callable[[], datetime],
    team_id: str,
    channel_id: str,
    user_id: str,
) -> Answer:
    """Records the freeze, starting now; a model is looked up first (by id or name), as `subscribe` does,
    and its `env:NAME` as `promote … env:NAME` finds it (LookupFailed, nothing recorded, for a name the
    model lacks or when Baseten cannot say), kept as Baseten spells it; for `all`, in lower case."""
    model_id, model_name, environment = ALL, "", cmd.environment.lower()
    if cmd.model != ALL:
        model = await resolve_model(client, cmd.model)
        model_id, model_name = model.id, model.display_name
        if cmd.environment not in (ALL, "production"):  # production: every model has it
            environment = await _environment(client, model, cmd.environment)
    start = now()
    ends = start + cmd.duration if cmd.duration is not None else None
    new = Held(0, model_id, model_name, environment, user_id, cmd.reason, start, ends, cmd.weekly)
    new = replace(new, id=await store.freezes.add(new, team_id=team_id, channel_id=channel_id))
    until = new.until(start)
    refused = "Promote, activate, rollback, Resume and Force roll forward are refused"
    if until is not None:
        said = f":snowflake: {held(new, until)}. {refused}."
    else:
        said = f"{listed(new, start)}. {refused} in it."
    return cards.lines_message([said], f"Froze {line(new.what)}"), "in_channel"


async def _environment(client: BasetenClient, model: Model, name: str) -> str:
    """Refuses rather than guesses: a freeze of a misspelt environment, or of one the bot could not check
    (Baseten unreachable), would answer "frozen" and hold nothing."""
    try:
        return (await resolve_environment(client, model, name)).name
    except LookupFailed as exc:
        raise LookupFailed(f"{exc} Nothing was frozen.") from None


async def unfreeze(cmd: Unfreeze, *, client: BasetenClient, store: Store, user_id: str) -> Answer:
    """Lifts the freezes of exactly that model (or of `all`) in that environment, or in any."""
    model_id = ALL
    if cmd.model != ALL:
        model_id = (await resolve_model(client, cmd.model)).id
    lifted = await store.freezes.lift(model_id, cmd.environment, by=user_id)
    if not lifted:
        what = "every model" if cmd.model == ALL else cmd.model
        where = f" in {cmd.environment}" if cmd.environment else ""
        return cards.info(f"No freeze of {what}{where} to lift. `/baseten freezes` lists them."), "ephemeral"
    names = "; ".join(f"*{mrkdwn(f.what, 140)}* (#{f.id})" for f in lifted)
    left = [f for f in await store.freezes.live() if f.model_id == ALL and model_id != ALL]
    more = " A freeze of every model still applies: `/baseten freezes`." if left else ""
    return cards.answer(f":sunny: {who(user_id)} lifted the freeze of {names}.{escape(more)}"), "in_channel"


async def list_freezes(*, store: Store, now: Callable[[], datetime]) -> Answer:
    at = now()
    found = await store.freezes.live()
    if not found:
        return cards.info("No freezes are set. `/baseten freeze 2h` sets one."), "ephemeral"
    lines = [f"*Freezes ({len(found)})*", *(listed(f, at) for f in found[:MAX_LISTED])]
    if len(found) > MAX_LISTED:
        lines.append(f"…and {len(found) - MAX_LISTED} more.")
    return cards.lines_message(lines, f"{len(found)} freeze(s)"), "ephemeral"
