"""A promotion, as a `production` channel sees it through the real `serve` process: every line,
the thread parents edited after it included, names deployments and shows a real icon."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

from tests.conftest import DEV, MODEL, PROD
from tests.fakes import FakeBaseten, FakeSlack, wait_until
from tests.test_faults_e2e import fast_bot
from tests.test_notices_e2e import posts_to
from tests.test_slash_e2e import answer, post_command

wait = partial(wait_until, timeout=30.0)


def test_thread_parents_name_deployments_after_a_promotion(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    bot = fast_bot(baseten, slack, db_url, tmp_path / "bot.log")
    try:
        post_command(bot, slack, f"subscribe {MODEL} production", channel="C1", name="sub")
        assert answer(slack, "sub")["response_type"] == "in_channel"

        baseten.set_status(MODEL, PROD, "UNHEALTHY")  # v3's thread starts
        wait(lambda: len(posts_to(slack, "C1")) == 1, what="v3's first notice")
        baseten.promote(MODEL, DEV)  # dev's thread starts with its promotion
        wait(lambda: len(posts_to(slack, "C1")) == 2, what="dev's promotion")
        baseten.set_status(MODEL, DEV, "ACTIVE")  # a reply in dev's thread: its parent is edited
        wait(lambda: len(posts_to(slack, "C1")) == 3, what="dev's status change")
        baseten.promote(MODEL, PROD)  # back to v3: a reply in v3's thread, whose parent is edited
        wait(lambda: len(posts_to(slack, "C1")) == 4, what="v3's promotion")
        wait(lambda: len(slack.calls("chat.update")) == 2, what="both parents edited")

        assert posts_to(slack, "C1") == [
            "llama-3-8b / v3: ACTIVE → UNHEALTHY",
            "llama-3-8b / dev: promoted → production (was v3)",
            "llama-3-8b / dev: BUILDING → ACTIVE",
            "llama-3-8b / v3: promoted → production (was dev)",
        ]
        posts = [p for p in slack.posts() if p["channel"] == "C1"]
        v3_ts, dev_ts = posts[3]["thread_ts"], posts[2]["thread_ts"]  # each reply names its parent
        assert "thread_ts" not in posts[0] and "thread_ts" not in posts[1] and v3_ts != dev_ts
        edits = {r.body["ts"]: r.body for r in slack.calls("chat.update")}
        dev_parent, v3_parent = edits[dev_ts], edits[v3_ts]
        started = json.dumps(dev_parent["blocks"][1], ensure_ascii=False)
        assert "Started with *llama-3-8b* / *dev* is now the production deployment (was *v3*)" in started
        assert PROD not in json.dumps(dev_parent)  # v3 by name, not id (the dashboard link is dev's)

        head = v3_parent["blocks"][0]["text"]["text"]
        assert head == ":rocket: *llama-3-8b* / *v3* is now the production deployment (was *dev*)"
        assert v3_parent["text"] == "llama-3-8b / v3: promoted → production (was dev) (latest of 2)"
        assert ":grey_question:" not in json.dumps(v3_parent) and DEV not in json.dumps(v3_parent)
    finally:
        bot.stop()
