"""A recurring freeze holds in its window only (issue 27), end to end: the real `serve` process, its
clock moved by the test (BOT_TEST_CLOCK_FILE) before, into and past a weekly window set in UTC."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain.digests import DAYS
from tests.conftest import MODEL, any_database
from tests.fakes import FakeBaseten, FakeSlack
from tests.test_act_cards_e2e import Clock
from tests.test_act_e2e import blocks_of, buttons, card_for, start
from tests.test_slash_e2e import answer, post_command

pytestmark = any_database
ADMIN = "U0ADMIN"


def _at(when: datetime) -> str:
    return f"{DAYS[when.weekday()]} {when:%H:%M}"


def test_a_weekly_freeze_holds_in_its_window_only(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    clock = Clock(tmp_path / "clock")
    bot = start(
        baseten,
        slack,
        db_url,
        tmp_path,
        OPERATOR_USER_IDS=ADMIN,
        ADMIN_USER_IDS=ADMIN,
        BOT_TEST_CLOCK_FILE=str(clock.path),
    )
    try:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        opens, closes = now + timedelta(hours=1), now + timedelta(hours=3)  # a weekly window later today
        post_command(bot, slack, f'freeze all weekly {_at(opens)} - {_at(closes)} UTC "release train"', name="wk",
                     user=ADMIN)  # fmt: skip
        froze = answer(slack, "wk")
        assert "release train" in f"{froze.get('text')} {json.dumps(blocks_of(froze))}"

        before = card_for(bot, slack, f"promote {MODEL} v2", "before", user=ADMIN)
        assert buttons(before), "before the window: the card offers to promote"

        clock.move(2 * 3600)  # an hour into the window
        inside = card_for(bot, slack, f"promote {MODEL} v2", "inside", user=ADMIN)
        said = f"{inside.get('text')} {json.dumps(blocks_of(inside))}"
        assert buttons(inside) == [] and "release train" in said and "frozen" in said

        clock.move(2 * 3600)  # an hour after it closed
        after = card_for(bot, slack, f"promote {MODEL} v2", "after", user=ADMIN)
        assert buttons(after), "after the window: the card offers to promote again"
        assert baseten.posts() == []  # nothing was confirmed: no request reached Baseten
    finally:
        bot.stop()
