"""One odd deployment never silences its model (issue 22), against the real `serve` process.

A teammate deploys under a watched model with an id or a name the bot cannot store or send
back. Before, the whole model's answer was refused: production's failure was never announced,
`list` kept showing ACTIVE, `status MODEL` said the answer could not be read, and only INFO
lines were logged. Now each odd one is left out on its own, logged once, and named by `status`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import MODEL, PROD, BotProcess, any_database, bot_env
from tests.fakes import FakeBaseten, FakeSlack, deployment
from tests.test_slash_e2e import answer, post_command

ODD = {
    "dep 9": {},  # a space
    "depü9": {},  # not ASCII
    "d" * 65: {},  # longer than a plain id
    "<!channel>": {},  # a mention, as an id
    "dep9long": {"name": "n" * 300},  # a plain id, a name over its column
}


@any_database
def test_odd_deployments_are_left_out_and_production_is_still_heard(
    baseten: FakeBaseten, slack: FakeSlack, db_url: str, tmp_path: Path
) -> None:
    for dep_id, fields in ODD.items():
        baseten.add_deployment({**deployment(dep_id, MODEL, name="odd", status="BUILDING"), **fields})
    bot = BotProcess(bot_env(baseten, slack, db_url, POLL_INTERVAL_SECONDS="1"), tmp_path / "bot.log")
    bot.wait_healthy()
    try:
        for channel, target in (("C1", ""), ("C2", " production")):
            post_command(bot, slack, f"subscribe {MODEL}{target}", name=channel, channel=channel)
            assert answer(slack, channel)["response_type"] == "in_channel"
        bot.wait_cycles(2)
        baseten.set_status(MODEL, PROD, "UNHEALTHY")
        slack.wait_for(lambda: len(slack.posts()) >= 2)
        bot.wait_cycles(3)
        assert sorted((p["channel"], p["text"]) for p in slack.posts()) == [
            ("C1", "llama-3-8b / v3: ACTIVE → UNHEALTHY"),
            ("C2", "llama-3-8b / v3: ACTIVE → UNHEALTHY"),
        ]
        post_command(bot, slack, f"status {MODEL}", name="overview")
        overview = answer(slack, "overview")
        shown = json.dumps(overview["blocks"])
        assert "5 more deployments not shown" in shown and "UNHEALTHY" in shown
        assert "<!channel>" not in shown  # named, escaped: it pings nobody
        post_command(bot, slack, "list", name="list", channel="C2")
        assert "UNHEALTHY" in json.dumps(answer(slack, "list"))
    finally:
        assert bot.stop() == 0
    log = bot.output()
    assert "Traceback" not in log
    left_out = re.findall(r"WARNING .* left out a deployment of model", log)
    assert len(left_out) == len(ODD), log  # each odd one logged once, not every poll
