"""`cost` end to end (issue 25): the real `serve` process fed signed slash commands, the fake Slack recording
its answers and the fake Baseten serving usage and prices (money as numbers and decimal strings alike);
`baseten-bot cost` in a terminal; a key without billing access answered plainly, Baseten asked once."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import MODEL, MODEL_NAME, OLD, PROD, BotProcess, any_database
from tests.fakes import API_KEY, FakeBaseten, FakeSlack
from tests.fakes_billing import H100, PRICES, USAGE
from tests.test_cli import run
from tests.test_slash_e2e import answer, post_command

pytestmark = any_database


def today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture
def billed(baseten: FakeBaseten) -> FakeBaseten:
    """The standard model's production (2 replicas of L4 up) and an old deployment, one deleted since (known
    only by the model's name), another model's deployment and a chainlet; spend now and the week before."""
    day = today()
    baseten.add_billed(PROD, name="v3", model_name=MODEL_NAME, environment="production")
    baseten.add_usage(PROD, day, "100.005", minutes=6000, requests=8000)
    baseten.add_usage(PROD, day - timedelta(days=1), "46.455", minutes=2400, requests=4000)
    baseten.add_usage(PROD, day - timedelta(days=8), "127.01", minutes=9000, requests=9000)  # the week before
    baseten.add_billed(OLD, name="v2", model_name=MODEL_NAME)
    baseten.add_usage(OLD, day - timedelta(days=2), "12.30", minutes=610, requests=0)
    baseten.add_billed("dep0gone", name="v1", model_name=MODEL_NAME, is_deleted=True)
    baseten.add_usage("dep0gone", day - timedelta(days=6), "0.01", minutes=1, requests=1)
    baseten.add_billed("dep9whis", name="w1", model_name="whisper", instance_type=H100)
    baseten.add_usage("dep9whis", day, "500", minutes=4000, requests=2)
    baseten.add_billed("cl1abc", kind="CHAINLET", name="retriever", instance_type=H100, chain=("ch1abc", "rag"))
    baseten.add_usage("cl1abc", day - timedelta(days=3), "6.50", minutes=60, requests=30)
    return baseten


def shown(message: dict[str, Any]) -> str:
    blocks = message["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return "\n".join(b["text"]["text"] if "text" in b else b["elements"][0]["text"] for b in blocks)


def test_cost_of_a_model_from_slack(bot: BotProcess, slack: FakeSlack, billed: FakeBaseten) -> None:
    ack = post_command(bot, slack, f"cost {MODEL_NAME}", name="cost")
    assert ack.status_code == 200 and not ack.content  # acknowledged at once; the answer follows
    reply = answer(slack, "cost")
    assert reply["response_type"] == "ephemeral"
    text = shown(reply)
    start = today() - timedelta(days=6)
    assert f"*Cost of model {MODEL_NAME}*, the last 7 days ({start.isoformat()} to {today().isoformat()}" in text
    assert "*$158.77*" in text  # 100.005 + 46.455 + 12.30 + 0.01 = 158.77, exact
    assert "+25% against the 7 days before ($127.01)." in text
    assert "Burn rate now: $1.70 an hour, $40.72 a day (2 replicas up)." in text  # 2 × 0.01414 a minute
    assert f"1. *v3* of {MODEL_NAME} `{PROD}`: *$146.46* · 8,400 min · 12,000 requests ($12.21 per 1,000)" in text
    assert f"2. *v2* of {MODEL_NAME} `{OLD}`: *$12.30* · 610 min · 0 requests\n" in text
    assert "3. *v1*" in text and "(deleted)" in text  # matched by the model's name
    assert "whisper" not in text and "retriever" not in text
    assert "Amounts in USD, rounded half up to the cent." in text
    assert str(reply["text"]).startswith(f"Cost of model {MODEL_NAME}, last 7 days: $158.77 USD (+25%)")
    usage_asked = [r for r in billed.billing_requests() if r.path == USAGE]
    assert len(usage_asked) == 2  # this window and the one before, each once


def test_cost_of_the_whole_workspace_then_again_from_the_cache(
    bot: BotProcess, slack: FakeSlack, billed: FakeBaseten
) -> None:
    post_command(bot, slack, "cost --days 30", name="all")
    text = shown(answer(slack, "all"))
    assert "*Cost of the whole workspace*, the last 30 days" in text
    assert "*$792.28*" in text  # 158.77 + 127.01 (a week ago is in these 30 days) + 500 + 6.50
    assert "No spend before: nothing in the 30 days before." in text
    lines = [line for line in text.splitlines() if line[:1].isdigit()]
    assert lines[0].startswith("1. *w1* of whisper `dep9whis`: *$500.00*") and "($250,000.00 per 1,000)" in lines[0]
    assert any("*retriever* of rag `cl1abc`" in line for line in lines)
    assert "2 replicas up" in text  # whisper is not a model the fake lists now: nothing of it runs
    post_command(bot, slack, "cost --days 30", name="again")
    assert shown(answer(slack, "again")) == text
    asked = billed.billing_requests()
    assert len([r for r in asked if r.path == PRICES]) == 1  # prices kept, the second answer from memory
    assert len({(r.path, json.dumps(r.query, sort_keys=True)) for r in asked}) == len(asked)  # nothing twice


def test_a_key_without_billing_access_is_answered_plainly_and_asked_once(
    bot: BotProcess, slack: FakeSlack, billed: FakeBaseten
) -> None:
    billed.billing_fail(403)
    for name in ("first", "second"):
        post_command(bot, slack, f"cost {MODEL}", name=name)
        reply = answer(slack, name)
        assert reply["response_type"] == "ephemeral"
        assert str(reply["text"]).startswith("This API key may not read Baseten's billing: Baseten answered 403")
        assert "BASETEN_API_KEY" in str(reply["text"]) and API_KEY not in json.dumps(reply)
    assert len(billed.billing_requests()) == 1  # the second command asked Baseten nothing


def test_bad_days_are_answered_in_the_ack_and_nothing_is_sent(
    bot: BotProcess, slack: FakeSlack, billed: FakeBaseten
) -> None:
    ack = post_command(bot, slack, "cost llama --days 45", name="bad")
    assert ack.status_code == 200
    body = ack.json()
    assert "out of range: from 1 to 31 days" in body["text"]
    assert billed.billing_requests() == []


def test_cost_in_the_terminal(billed: FakeBaseten) -> None:
    env = {"BASETEN_API_KEY": API_KEY, "BASETEN_API_URL": billed.url}
    result = run("cost", MODEL, "--days", "7", env=env)
    assert result.returncode == 0, result.stderr
    assert f"Cost of model {MODEL_NAME}, the last 7 days" in result.stdout and "$158.77" in result.stdout
    assert f"  1. v3 of {MODEL_NAME} ({PROD}): $146.46" in result.stdout
    assert "Burn rate now: $1.70 an hour, $40.72 a day" in result.stdout
    assert "Amounts in USD, rounded half up to the cent." in result.stdout
    everything = run("cost", env=env)
    assert everything.returncode == 0 and "Cost of the whole workspace" in everything.stdout
    assert run("cost", "nosuch", env=env).returncode == 1
    bad = run("cost", MODEL, "--days", "0", env=env)
    assert bad.returncode == 2 and "from 1 to 31 days" in bad.stderr
    assert run("cost", "bad/id", env=env).returncode == 2
    billed.billing_fail(403)
    refused = run("cost", env=env)
    assert refused.returncode == 1 and "may not read Baseten's billing" in refused.stderr
    assert API_KEY not in refused.stderr + refused.stdout
