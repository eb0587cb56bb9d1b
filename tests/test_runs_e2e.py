"""Chains and training jobs followed like models, end to end (issue 23): the real commands, poller
and notifier in process (tests.world: wired as `serve` wires them, a real database), against the
fake Baseten's chains and training projects and the recording Slack. What Slack shows is asserted
word for word where the words are the point.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes import FakeBaseten, FakeSlack, log_line
from tests.fakes_runs import chain_deployment, chainlet, training_job
from tests.world import World

CHAIN, PROJECT = "ch1abc", "tp1abc"
PROD, NEW = "cd1prod", "cd2new"


@pytest.fixture
async def world(baseten: FakeBaseten, slack: FakeSlack, db_url: str) -> AsyncIterator[World]:
    w = World(baseten, slack, db_url)
    yield w
    await w.close()


@pytest.fixture
def chain(baseten: FakeBaseten) -> FakeBaseten:
    """Chain `rag`: its production deployment runs a Retriever and a Generator."""
    parts = [chainlet("cl1ret", "Retriever", replicas=2), chainlet("cl2gen", "Generator")]
    baseten.add_chain(CHAIN, "rag", [chain_deployment(PROD, CHAIN, environment="production", chainlets=parts)])
    return baseten


def texts(slack: FakeSlack, channel: str = "C1") -> list[str]:
    return [p["text"] for p in slack.posts() if p["channel"] == channel]


def shown(message: Any) -> str:
    blocks = message["blocks"] if isinstance(message, dict) else message.blocks
    return json.dumps(blocks if isinstance(blocks, list) else json.loads(blocks), ensure_ascii=False)


def code(message: Any) -> list[str]:
    """The lines of the message's error-lines code block."""
    sections = [b["text"]["text"] for b in json.loads(shown(message)) if b["type"] == "section" and "text" in b]
    (block,) = [t for t in sections if t.startswith("*Latest error lines*")]
    return str(block).split("```")[1].strip("\n").split("\n")


# -- a: a chain deployment builds, then one chainlet fails -------------------------------------------


async def test_a_chain_is_followed_like_a_model(world: World, chain: FakeBaseten, slack: FakeSlack) -> None:
    answer, kind = await world.command("subscribe chain:rag")
    assert kind == "in_channel" and answer.text == "Subscribed this channel to rag"
    await world.cycle()
    assert slack.posts() == []  # the baseline is silent

    building = [chainlet("cl3ret", "Retriever", status="BUILDING"), chainlet("cl4gen", "Generator", status="BUILDING")]
    chain.add_chain_deployment(chain_deployment(NEW, CHAIN, status="BUILDING", chainlets=building))
    await world.cycle()
    for status in ("DEPLOYING", "ACTIVE"):
        chain.set_chain_status(CHAIN, NEW, status, chainlets=True)
        await world.cycle()
    assert texts(slack) == [
        f"rag / {NEW}: new chain deployment → BUILDING",
        f"rag / {NEW}: BUILDING → DEPLOYING",
        f"rag / {NEW}: DEPLOYING → ACTIVE",
    ]
    first, *later = slack.posts()
    assert f":sparkles: *New chain deployment*: New chain deployment *{NEW}* of *rag*: `BUILDING`" in shown(first)
    assert "app.baseten.co/chains/ch1abc/logs/cd2new" in shown(first)
    assert "• chainlet *Retriever*: `BUILDING` → `DEPLOYING`\\n• chainlet *Generator*: `BUILDING` → `DEPLOYING`" in (
        shown(later[0])
    )
    assert all(p["thread_ts"] == slack.ts_of(first) for p in later)  # one thread per chain deployment

    at = world.clock.now.timestamp()
    chain.add_chainlet_logs(
        CHAIN,
        NEW,
        "cl4gen",
        log_line("loading weights", at=at + 10, level="INFO"),
        log_line("CUDA error: out of memory", at=at + 20),
        log_line("Worker <@U0ALICE> died", at=at + 30),
    )
    chain.add_chainlet_logs(CHAIN, NEW, "cl3ret", log_line("a healthy chainlet's error", at=at + 25))
    chain.set_chainlet_status(CHAIN, NEW, "cl4gen", "UNHEALTHY")
    report = await world.cycle()
    assert report.changes == 1
    assert texts(slack)[3:] == [f"rag / {NEW}: ACTIVE → UNHEALTHY"]
    failure = slack.posts()[3]
    assert f":rotating_light: *Failure*: *rag* / *{NEW}*: `ACTIVE` → `UNHEALTHY`" in shown(failure)
    assert "• chainlet *Generator*: `ACTIVE` → `UNHEALTHY`" in shown(failure) and "*Retriever*" not in shown(failure)
    assert code(failure) == ["[Generator] CUDA error: out of memory", "[Generator] Worker &lt;@U0ALICE&gt; died"]
    (asked,) = [r for r in chain.log_requests() if "/chainlets/" in r.path]  # the failing chainlet's only
    assert asked.path == f"/v1/chains/{CHAIN}/deployments/{NEW}/chainlets/cl4gen/logs"
    assert failure["reply_broadcast"] is True  # a failure reaches the channel, not only the thread
    await world.cycle()
    assert len(slack.posts()) == 4  # said once


# -- b: status cards ---------------------------------------------------------------------------------


@pytest.fixture
def project(baseten: FakeBaseten) -> FakeBaseten:
    """Training project `ft` with one job that ran for 2h 30m."""
    done = training_job(
        "tj1done",
        PROJECT,
        status="TRAINING_JOB_COMPLETED",
        name="first-run",
        created_at="2026-11-27T06:00:00Z",
        updated_at="2026-11-27T08:30:00Z",
    )
    baseten.add_training_project(PROJECT, "ft", [done])
    return baseten


async def test_status_of_a_chain_and_of_a_job(world: World, chain: FakeBaseten, project: FakeBaseten) -> None:
    overview, kind = await world.command("status chain:rag")
    assert kind == "ephemeral" and overview.text == "rag: 1 chain deployment (ACTIVE)"
    assert "*rag* (`ch1abc`): 1 chain deployment" in shown(overview)
    assert f":large_green_circle: *{PROD}* `{PROD}` ACTIVE · _production_ · 3 up" in shown(overview)

    chain.set_chainlet_status(CHAIN, PROD, "cl2gen", "UNHEALTHY")
    chain.add_chainlet_logs(CHAIN, PROD, "cl2gen", log_line("KeyError: 'prompt'", at=world.clock.now.timestamp()))
    card, kind = await world.command("status chain:rag production")
    assert kind == "ephemeral" and card.text == f"rag / {PROD}: UNHEALTHY"
    assert (
        ":large_green_circle: chainlet *Retriever* `ACTIVE`\\n:red_circle: chainlet *Generator* `UNHEALTHY`"
        in shown(card)
    )
    assert "*Replicas*\\n3 active" in shown(card) and f"Chain deployment `{PROD}` of chain `{CHAIN}`" in shown(card)
    assert code(card) == ["[Generator] KeyError: 'prompt'"]  # why it fails, read live
    assert "app.baseten.co/chains/ch1abc/logs/cd1prod" in shown(card)

    for typed in ("tj1done", "first-run"):  # by id or by name
        job, kind = await world.command(f"status training:ft {typed}")
        assert kind == "ephemeral" and job.text == "ft / first-run: TRAINING_JOB_COMPLETED"
        assert "*Instance type*\\nH100:2x" in shown(job) and "Job `tj1done` of training project `tp1abc`" in shown(job)
        assert "app.baseten.co/training/tp1abc/jobs/tj1done" in shown(job)
    jobs, _ = await world.command("status training:ft")
    assert jobs.text == "ft: 1 job (TRAINING_JOB_COMPLETED)"
    missing, _ = await world.command("status training:ft tj9none")
    assert missing.text == "Training project `ft` has no job `tj9none` (by id or by name)."
    none, _ = await world.command("status training:nope")
    assert none.text == "I can't find a training project `nope` on Baseten (by id or by name)."
