"""Pure Block Kit for acting on deployments: the buttons on cards and notices, the
confirmation card, its replacement by the outcome, the line in the channel, the refusal.

Two kinds of button. An *ask* button (on a deployment card or a failure notice, which
may be hours old) changes nothing: it brings up the confirmation card, built from the
deployment's status now. The card's one *do* button acts, after Slack's `confirm` dialog.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.actions.answers import Outcome
from bot.actions.checks import MAX_AGE, Shown, encode_card, role_words
from bot.actions.verbs import (
    PRODUCTION,
    SCALE_TO_ZERO,
    VERBS,
    Target,
    Verb,
    encode,
    fitting,
    promotion_controls,
    scales_to_zero,
)
from bot.domain.changes import GUARD, IDLE, NEW, SETTLED, STATUS, Change
from bot.domain.guard import AFTER
from bot.domain.ids import USER_ID, is_plain_id
from bot.domain.status import FAILURES, emoji
from bot.domain.subjects import Kind, is_key, kind_of
from bot.render.cards import Block, Message, context_block, section_block
from bot.render.guard import PAUSED
from bot.render.text import escape, mrkdwn, plain

ASK = "act_ask_"  # + verb: opens the confirmation card
DO = "act_do_"  # + verb: acts, after Slack's confirm dialog
NOT_OPERATOR = (
    "Only the bot's operators may act on deployments (retry, activate, deactivate, scale to zero, promote, "
    "roll back) "
    "or training jobs (stop, recreate). "
    "Ask one of them, or whoever runs the bot to add you to OPERATOR_USER_IDS."
)
NOBODY = "Nobody may act on deployments from Slack here: OPERATOR_USER_IDS is not set."


def ask_buttons(status: str, target: Target, *, production: bool, min_replica: int | None = None) -> list[Block]:
    """The buttons that fit a deployment's status, each opening the confirmation card; Scale to zero
    too when its minimum replicas (None: not known, or not the caller's to say) keeps replicas up."""
    kind = kind_of(target.model_id)
    shown = [ask_button(VERBS[verb], target) for verb in fitting(status, production=production, kind=kind)]
    if scales_to_zero(status, min_replica, kind=kind):
        shown.append(ask_button(VERBS[SCALE_TO_ZERO], target))
    return shown


def scale_to_zero_button(
    model_id: str,
    deployment_id: str,
    *,
    status: str,
    min_replica: int | None,
    model_name: str = "",
    deployment_name: str = "",
) -> Block | None:
    """The "Scale to zero…" button for any message about a deployment (an idle notice, a card), from its
    status and minimum replicas as that message saw them; None where it does not fit: not a model's
    running deployment, a minimum of 0 or unknown, or ids the bot cannot send back. Like every ask
    button it changes nothing: it brings up the confirmation card, drawn from Baseten then."""
    if not is_key(model_id) or not is_plain_id(deployment_id):
        return None
    if not scales_to_zero(status, min_replica, kind=kind_of(model_id)):
        return None
    target = Target(model_id, deployment_id, PRODUCTION, model_name, deployment_name)
    return ask_button(VERBS[SCALE_TO_ZERO], target)


def ask_button(verb: Verb, target: Target) -> Block:
    return {
        "type": "button",
        "action_id": ASK + verb.name,
        "text": {"type": "plain_text", "text": f"{verb.label}…"},
        "value": encode(verb.name, target),
    }


def do_button(verb: Verb, target: Target, shown: Shown) -> Block:
    """The button that acts, carrying what its card showed; Slack asks "are you sure?" before the
    click reaches the bot."""
    button: Block = {
        "type": "button",
        "action_id": DO + verb.name,
        "text": {"type": "plain_text", "text": verb.label},
        "value": encode_card(verb.name, target, shown),
        "style": "danger" if verb.danger else "primary",
        "confirm": {
            "title": {"type": "plain_text", "text": f"{verb.label}?"},
            "text": {"type": "plain_text", "text": plain(verb.does(target), 300)},
            "confirm": {"type": "plain_text", "text": verb.label},
            "deny": {"type": "plain_text", "text": "Cancel"},
        },
    }
    if verb.danger:
        button["confirm"]["style"] = "danger"
    return button


def _what(target: Target) -> str:
    model = target.model_name or target.model_id
    return f"`{mrkdwn(target.label, 60)}` of *{mrkdwn(model, 60)}*"


def _does(verb: Verb, target: Target) -> str:
    """What the verb will do, in mrkdwn: the verb's sentence has no markup of its own, so the rule for
    the Baseten names in it (or ids, where a name is missing) holds for all of it."""
    return mrkdwn(verb.does(target), 600)


def confirmation(verb: Verb, target: Target, shown: Shown, *, notes: Sequence[str] = ()) -> Message:
    """What will happen, the status (and a deployment's role) now, and one button that does it, which
    carries them: it acts only while they still hold. `notes` are mrkdwn."""
    head = f":point_right: *{escape(verb.label)}* {_what(target)}?"
    status = shown.status
    now = f"Status now: {emoji(status)} `{mrkdwn(status, 40)}`"
    if verb.needs_deployment:
        now += f" · {escape(role_words(shown.role))}"
    if shown.min_replica is not None:  # Scale to zero's: the minimum it acts on, carried like the status
        now += f" · min replicas `{shown.min_replica}`"
    lines = [_does(verb, target), now]
    lines += list(notes)  # already mrkdwn
    blocks: list[Block] = [
        section_block(head),
        section_block("\n".join(lines)),
        context_block(
            f"{'Deployment' if verb.needs_deployment else 'Candidate'} `{mrkdwn(target.deployment_id)}` of model "
            f"`{mrkdwn(target.model_id)}`"
            + (
                f" · environment `{mrkdwn(target.environment)}`"
                if verb.name in ("promote", "rollback") or not verb.needs_deployment
                else ""
            )
            + f" · nothing changes until you click · works once, for {int(MAX_AGE.total_seconds() // 60)} minutes"
            + " · only you can see this"
        ),
        {"type": "actions", "elements": [do_button(verb, target, shown)]},
    ]
    text = f"{verb.label} {plain(target.label, 60)} of {plain(target.model_name or target.model_id, 60)}?"
    return Message(text=text, blocks=blocks)


def mention(user: str) -> str:
    """`<@U123>` for a Slack user id; anything else (it came in a payload) is not put in mrkdwn."""
    return f"<@{user}>" if USER_ID.fullmatch(user) else "someone"


def _did(verb: Verb, outcome: Outcome) -> str:
    if outcome.accepted:
        return verb.past
    if verb.name == "rollback":
        return "tried to roll back to"
    if not verb.needs_deployment:  # "tried to pause the promotion of `v4`"
        return f"tried to {verb.label.lower().removesuffix(' promotion')} the promotion of"
    return f"tried to {verb.label.lower()}"


def _lines(user: str, verb: Verb, target: Target, outcome: Outcome) -> tuple[str, str]:
    """(plain text, mrkdwn): `<@U123> retried `v3`: Baseten accepted it`. The words are a sentence
    with Baseten's reason in it, already a clean line (bot.actions.verbs): escaped whole."""
    did, words = _did(verb, outcome), escape(outcome.words)
    text = f"{mention(user)} {did} `{mrkdwn(target.label, 60)}`: {words}"
    rich = f"{mention(user)} {did} {_what(target)}: {words}"
    return text, rich


def outcome_card(user: str, verb: Verb, target: Target, outcome: Outcome) -> Message:
    """Replaces the confirmation card: who did what, and Baseten's answer as given."""
    text, rich = _lines(user, verb, target, outcome)
    icon = ":white_check_mark:" if outcome.accepted else ":x:"
    return Message(text=text, blocks=[section_block(f"{icon} {rich}")])


def channel_line(user: str, verb: Verb, target: Target, outcome: Outcome, *, override: str = "") -> Message:
    """The one line the channel (or the deployment's thread there) reads about the action; with
    `override` (mrkdwn), the freeze an admin acted through, said beneath it."""
    text, rich = _lines(user, verb, target, outcome)
    icon = ":hammer_and_wrench:" if outcome.accepted else ":x:"
    blocks = [section_block(f"{icon} {rich}")]
    if override:
        blocks.append(section_block(override))
        text += " (overriding a freeze)"
    return Message(text=text, blocks=blocks)


def frozen(rich: str) -> Message:
    """An action refused by a freeze (bot.render.freezes.refusal, already mrkdwn)."""
    return Message(text=rich, blocks=[section_block(rich)])


def refusal(*, anyone: bool) -> Message:
    text = NOT_OPERATOR if anyone else NOBODY
    return Message(text=escape(text), blocks=[section_block(f":no_entry: {escape(text)}")])


def note(text: str) -> Message:
    """A short answer in place of a card: nothing to roll back to, a button the bot cannot read. A
    sentence escaped whole: a Baseten name in it is cleaned first (bot.render.text.inline)."""
    return Message(text=escape(text), blocks=[section_block(escape(text))])


def instead(why: str, fresh: Message | None) -> Message:
    """Nothing was sent, and why (plain text); then, when there is one, a fresh card to act from."""
    # `why` names what Baseten shows now (names, statuses): the whole sentence takes Baseten's rule
    text = f"Nothing was sent to Baseten: {why}."
    more = " Here it is as it is now." if fresh and any(b.get("type") == "actions" for b in fresh.blocks) else ""
    blocks = [section_block(f":hourglass: {mrkdwn(text + more, 2900)}"), *(fresh.blocks if fresh else [])]
    return Message(text=plain(text, 1000), blocks=blocks)


def notice_buttons(change: Change, model_name: str) -> list[Block]:
    """The buttons a failure notice carries: what fits the status it failed into."""
    if change.kind == GUARD:
        return guard_buttons(change, model_name)
    if change.kind == IDLE:  # idle warm replicas: Scale to zero, when its minimum keeps them up
        minimum = change.detail.get("min_replica")
        button = scale_to_zero_button(
            change.model_id,
            change.deployment_id,
            status=change.new_status,
            min_replica=minimum if isinstance(minimum, int) else None,
            model_name=model_name,
            deployment_name=change.deployment_name,
        )
        return [] if button is None else [button]
    if change.kind not in (STATUS, NEW, SETTLED) or change.new_status not in FAILURES:
        return []
    target = Target(change.model_id, change.deployment_id, PRODUCTION, model_name, change.deployment_name)
    return ask_buttons(change.new_status, target, production=bool(change.detail.get("is_production")))


def promotion_buttons(change: Change, model_name: str) -> list[Block]:
    """The controls a promotion's live message carries while it runs: Pause or Resume, Cancel,
    Force roll forward, each opening the confirmation card (built from the promotion as it is then)."""
    environment = str(change.detail.get("environment") or "")
    if change.detail.get("final") or not environment or not change.deployment_id:
        return []
    if kind_of(change.model_id) is not Kind.MODEL:  # a chain's promotion: its controls are not Baseten's API
        return []
    target = Target(change.model_id, change.deployment_id, environment, model_name, change.deployment_name)
    return [ask_button(VERBS[verb], target) for verb in promotion_controls(change.new_status)]


def guard_buttons(change: Change, model_name: str) -> list[Block]:
    """The promotion guard's failing message: Pause (Resume, once the guard paused it) and Cancel for a
    promotion under way; Roll back for a new current deployment failing since its promotion."""
    environment = str(change.detail.get("environment") or "")
    if not environment or not change.deployment_id or kind_of(change.model_id) is not Kind.MODEL:
        return []
    target = Target(change.model_id, change.deployment_id, environment, model_name, change.deployment_name)
    if change.detail.get("phase") == AFTER:
        return [ask_button(VERBS["rollback"], target)]
    paused = change.detail.get("paused") == PAUSED or change.detail.get("promotion_status") == "PAUSED"
    first = "resume_promotion" if paused else "pause_promotion"
    return [ask_button(VERBS[verb], target) for verb in (first, "cancel_promotion")]
