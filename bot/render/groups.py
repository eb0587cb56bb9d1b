"""Pure Block Kit for a burst's one message: its notices counted by kind, their lines grouped by kind.

Each notice's own message goes in its deployment's thread, or in this message's thread; this one
only names them: `model · deployment OLD → NEW`, a section per kind, within Slack's limits (3,000
characters a section; past that, `… and N more`).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.changes import NEW, REMIND, Change
from bot.domain.groups import WORDS, Tally, word
from bot.render.cards import MAX_SECTION, Block, Message, context_block, section_block
from bot.render.text import NAME, mrkdwn

_ICONS = {"failed": ":rotating_light:", "still failing": ":rotating_light:", "recovered": ":white_check_mark:"}


def group_message(notices: Sequence[tuple[Change, str]]) -> Message:
    """The one message of a group: `notices` are its changes with their model names, in order."""
    tally = Tally.of([c for c, _ in notices])
    sentence = tally.sentence()
    blocks: list[Block] = [section_block(f":package: *{sentence}*")]
    for w in WORDS:
        lines = [_line(c, name) for c, name in notices if word(c) == w]
        if lines:
            blocks.append(section_block(_section(f"{_ICONS.get(w, '•')} *{w.capitalize()}* ({len(lines)})", lines)))
    blocks.append(context_block("Each notice is in its deployment's thread, or in this message's thread."))
    return Message(text=sentence, blocks=blocks)


def _line(change: Change, model_name: str) -> str:
    """`model · deployment OLD → NEW`, as mrkdwn."""
    model = mrkdwn(model_name or change.model_id, NAME)
    dep = mrkdwn(change.deployment_name or change.deployment_id, NAME)
    new = mrkdwn(change.new_status, NAME)
    if change.kind == REMIND:
        return f"• *{model}* · *{dep}* still `{new}`"
    if change.kind == NEW or not change.old_status:
        return f"• *{model}* · *{dep}* new, `{new}`"
    return f"• *{model}* · *{dep}* `{mrkdwn(change.old_status, NAME)}` → `{new}`"


def _section(head: str, lines: Sequence[str]) -> str:
    """The head and as many lines as fit in one section, then `… and N more`."""
    room = MAX_SECTION - len(head) - 40  # the `and N more` line
    kept: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > room:
            break
        kept.append(line)
    more = len(lines) - len(kept)
    tail = [f"… and {more} more"] if more else []
    return "\n".join([head, *kept, *tail])
