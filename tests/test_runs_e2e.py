"""Chains and training jobs followed like models, end to end (issue 23): the real commands, poller
and notifier in process (tests.world: wired as `serve` wires them, a real database), against the
fake Baseten's chains and training projects and the recording Slack. What Slack shows is asserted
word for word where the words are the point.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.fakes import API_KEY, FakeBaseten, FakeSlack, deployment, log_line
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
        fields = [f["text"].split("\n")[0] for b in job.blocks for f in b.get("fields", [])]
        assert fields == ["*Status*", "*Instance type*", "*Created*"]  # none of a model deployment's others
    jobs, _ = await world.command("status training:ft")
    assert jobs.text == "ft: 1 job (TRAINING_JOB_COMPLETED)"
    missing, _ = await world.command("status training:ft tj9none")
    assert missing.text == "Training project `ft` has no job `tj9none` (by id or by name)."
    none, _ = await world.command("status training:nope")
    assert none.text == "I can't find a training project `nope` on Baseten (by id or by name)."


def iso(world: World, **delta: float) -> str:
    """The world's clock (moved by `delta`) as Baseten writes a time."""
    return (world.clock.now + timedelta(**delta)).isoformat().replace("+00:00", "Z")


# -- c: a new job runs and completes -----------------------------------------------------------------


async def test_a_new_job_is_announced_and_its_end_says_how_it_ran(
    world: World, project: FakeBaseten, slack: FakeSlack
) -> None:
    answer, kind = await world.command("subscribe training:ft")
    assert kind == "in_channel" and answer.text == "Subscribed this channel to ft"
    await world.cycle()
    project.add_job(training_job("tj2new", PROJECT, status="TRAINING_JOB_CREATED", created_at=iso(world)))
    await world.cycle()
    project.set_job_status(PROJECT, "tj2new", "TRAINING_JOB_RUNNING", updated_at=iso(world))
    await world.cycle()
    world.clock.advance(hours=2, minutes=14)  # it trains
    for n in (1, 2, 3):
        project.add_checkpoint(PROJECT, "tj2new", f"ckpt-{n}00")
    project.set_job_status(PROJECT, "tj2new", "TRAINING_JOB_COMPLETED", updated_at=iso(world))
    await world.cycle()
    await world.cycle()
    assert texts(slack) == [
        "ft / tj2new: new job → TRAINING_JOB_CREATED",
        "ft / tj2new: TRAINING_JOB_CREATED → TRAINING_JOB_RUNNING",
        "ft / tj2new: TRAINING_JOB_RUNNING → TRAINING_JOB_COMPLETED",
    ]
    new, running, done = slack.posts()
    assert ":sparkles: *New job*: New job *tj2new* of *ft*: `TRAINING_JOB_CREATED`" in shown(new)
    assert "app.baseten.co/training/tp1abc/jobs/tj2new" in shown(new)
    assert running["thread_ts"] == done["thread_ts"] == slack.ts_of(new)
    fields = [f["text"] for b in json.loads(shown(done)) for f in b.get("fields", [])]
    assert fields == [
        "*Time in TRAINING_JOB_RUNNING*\n2h 15m",  # as the bot saw it, a poll apart
        "*Created to end*\n2h 16m",  # created to Baseten's last update
        "*Instance type*\nH100:2x",
        "*Checkpoints written*\n3",
    ]
    assert "Created to end" not in shown(running)  # only an ended job says how it ran
    asked = [r.path for r in project.requests if r.path.endswith("/checkpoints")]
    assert asked == [f"/v1/training_projects/{PROJECT}/jobs/tj2new/checkpoints"]  # once, for the end


async def test_a_stopped_job_says_how_it_ran_and_its_recreation_is_a_new_job(
    world: World, project: FakeBaseten, slack: FakeSlack
) -> None:
    """Someone stops a job and recreates it (Baseten's own POSTs, made outside the bot): heard as a stop
    with the run's figures, and a new job."""
    project.add_job(training_job("tj2run", PROJECT, instance_type="A100:8x", created_at=iso(world, minutes=-50)))
    project.clock = world.clock  # what Baseten stamps its actions with
    await world.command("subscribe training:ft")
    await world.cycle()
    headers = {"Authorization": f"Api-Key {API_KEY}"}
    base = f"{project.url}/v1/training_projects/{PROJECT}/jobs/tj2run"
    assert httpx.post(f"{base}/stop", json={}, headers=headers, timeout=5).status_code == 200
    await world.cycle()
    made = httpx.post(f"{base}/recreate", headers=headers, timeout=5).json()["training_job"]
    await world.cycle()
    assert texts(slack) == [
        "ft / tj2run: TRAINING_JOB_RUNNING → TRAINING_JOB_STOPPED",
        f"ft / {made['id']}: new job → TRAINING_JOB_CREATED",
    ]
    stopped = shown(slack.posts()[0])
    assert "*Instance type*\\nA100:8x" in stopped and "*Checkpoints written*\\n0" in stopped
    assert "*Created to end*\\n51m" in stopped and "Latest error lines" not in stopped  # a stop is no failure
    assert made["created_at"] == iso(world, minutes=-1)  # recreated a cycle before it was heard


# -- d: a job fails ------------------------------------------------------------------------------------


async def test_a_failed_job_quotes_basetens_error_message_and_its_error_lines(
    world: World, project: FakeBaseten, slack: FakeSlack
) -> None:
    project.add_job(training_job("tj2run", PROJECT, created_at=iso(world, minutes=-40)))
    await world.command("subscribe training:ft tj2run")
    await world.cycle()
    at = world.clock.now.timestamp()
    project.add_job_logs(
        PROJECT,
        "tj2run",
        log_line("epoch 3 step 1200 loss 0.41", at=at + 10, level="INFO"),
        log_line("RuntimeError: NCCL watchdog timeout on rank 3", at=at + 20),
        log_line("torch.distributed.elastic: worker group failed", at=at + 30),
    )
    project.set_job_status(
        PROJECT,
        "tj2run",
        "TRAINING_JOB_FAILED",
        error_message="Job exited with code 1: <oom> on node 2\nsee logs",
        updated_at=iso(world, seconds=40),
    )
    await world.cycle()
    (failure,) = slack.posts()
    assert failure["text"] == "ft / tj2run: TRAINING_JOB_RUNNING → TRAINING_JOB_FAILED"
    blocks = shown(failure)
    assert ":rotating_light: *Failure*: *ft* / *tj2run*: `TRAINING_JOB_RUNNING` → `TRAINING_JOB_FAILED`" in blocks
    assert "*Baseten says:*\\n```\\nJob exited with code 1: &lt;oom&gt; on node 2 see logs\\n```" in blocks
    assert code(failure) == [
        "RuntimeError: NCCL watchdog timeout on rank 3",
        "torch.distributed.elastic: worker group failed",
    ]
    assert "*Created to end*\\n41m" in blocks and "*Checkpoints written*\\n0" in blocks  # a failure ended it too
    (asked,) = project.log_requests()
    assert asked.path == f"/v1/training_projects/{PROJECT}/jobs/tj2run/logs"
    assert {k: v for k, v in asked.query.items() if k != "start_epoch_millis"} == {
        "min_level": ["ERROR"],
        "direction": ["desc"],
        "limit": ["5"],
    }
    card, _ = await world.command("status training:ft tj2run")  # the card says the same, read live
    assert card.text == "ft / tj2run: TRAINING_JOB_FAILED"
    assert "Job exited with code 1: &lt;oom&gt; on node 2 see logs" in shown(card)
    assert code(card) == code(failure)


# -- e: a job waits for GPUs -----------------------------------------------------------------------------


def _held(job_id: str) -> dict[str, Any]:
    """An ActiveJobAtSubmitV1: a job that held the pool when the queued one was submitted."""
    return {
        "training_job_id": job_id,
        "instance_type_name": "H100:8x",
        "total_gpus": 8,
        "workload_plane_name": "us-east",
        "status_at_submit": "TRAINING_JOB_RUNNING",
        "status_set_at": "2026-11-27T08:00:00Z",
    }


async def test_a_job_pending_ten_minutes_gets_one_queued_notice_saying_why(
    world: World, project: FakeBaseten, slack: FakeSlack
) -> None:
    await world.command("subscribe training:ft")
    await world.cycle()
    project.add_job(training_job("tj3wait", PROJECT, status="TRAINING_JOB_PENDING", created_at=iso(world)))
    project.set_queue_context(
        "tj3wait",
        {
            "requested_gpus": 16,
            "submitted_at": iso(world),
            "active_at_submit": [_held("tj8big"), _held("tj9big")],
            "pending_ahead_at_submit": [
                {
                    "training_job_id": "tj7first",
                    "instance_type_name": "H100:8x",
                    "requested_gpus": 8,
                    "priority": 0,
                    "submitted_at": "2026-11-27T08:50:00Z",
                }
            ],
            "org_capacity": {"gpu_type": "H100", "max_gpus": 16, "last_modified": "2026-11-01T00:00:00Z"},
            "events": [
                {"training_job_id": "tj9big", "status": "TRAINING_JOB_RUNNING", "created": "2026-11-27T08:00:00Z"},
                {
                    "training_job_id": "tj3wait",
                    "status": "TRAINING_JOB_PENDING",
                    "created": iso(world),
                    "event_message": "Waiting for <H100> capacity",
                },
            ],
        },
    )
    await world.cycle()
    assert texts(slack) == ["ft / tj3wait: new job → TRAINING_JOB_PENDING"]
    world.clock.advance(minutes=8)
    await world.cycle()  # 9 minutes pending: not yet
    assert project.count("/v1/training/jobs/") == 0
    await world.cycle()  # 10 minutes
    for _ in range(3):
        await world.cycle()  # still pending: said once
    assert texts(slack)[1:] == ["ft / tj3wait: pending for 10m, waiting for GPU capacity"]
    queued = slack.posts()[1]
    assert queued["thread_ts"] == slack.ts_of(slack.posts()[0])  # a line in the job's thread
    assert ":hourglass: *Queued*: *ft* / *tj3wait* has been pending for 10m, waiting for GPU capacity" in shown(queued)
    assert (
        ":information_source: Waiting for 16 × H100; when it was submitted, 2 jobs held that pool and 1 was queued "
        "ahead of it; org cap 16 GPUs; latest: Waiting for &lt;H100&gt; capacity."
    ) in shown(queued)
    assert project.count("/v1/training/jobs/tj3wait/queue_context") == 1  # read once, for the one notice
    project.set_job_status(PROJECT, "tj3wait", "TRAINING_JOB_RUNNING")
    await world.cycle()
    assert texts(slack)[2:] == ["ft / tj3wait: TRAINING_JOB_PENDING → TRAINING_JOB_RUNNING"]
    assert "*Time in TRAINING_JOB_PENDING*\\n14m" in shown(slack.posts()[2])  # first seen pending 14m before


# -- f: a chain environment's promotion ----------------------------------------------------------------


def edits(slack: FakeSlack, channel: str = "C1") -> list[dict[str, Any]]:
    return [r.body for r in slack.calls("chat.update") if r.ok and r.body["channel"] == channel]


async def test_a_chain_promotion_is_one_live_message(world: World, chain: FakeBaseten, slack: FakeSlack) -> None:
    """A chain environment has no promotion object: a candidate beside the current deployment is one
    (RELEASING, no traffic figure), and it ends when the candidate is current, as a model's that
    Baseten stops showing. One live message, edited to its end; the steps and the promotion in its thread."""
    chain.add_chain_deployment(chain_deployment(NEW, CHAIN, created_at=iso(world)))
    chain.add_chain_environment(CHAIN, "staging", current=NEW)
    chain.add_chain_deployment(chain_deployment("cd3next", CHAIN, created_at=iso(world)))
    answer, kind = await world.command("subscribe chain:rag env:staging")
    assert kind == "in_channel"
    assert "subscribed this channel to *rag* / the *staging* environment. It is :large_green_circle: `ACTIVE` now." in (
        shown(answer)
    )
    await world.cycle()
    chain.set_chain_candidate(CHAIN, "staging", "cd3next")
    await world.cycle()
    await world.cycle()  # nothing moved: nothing said
    assert texts(slack) == ["rag / cd3next → staging: RELEASING"]
    (live,) = slack.posts()
    assert ":rocket: *Promotion releasing*: *cd3next* → *staging* of *rag*" in shown(live)
    assert "Traffic" not in shown(live) and "*Current deployment*\\ncd2new" in shown(live)  # chains have no share
    assert "app.baseten.co/chains/ch1abc/logs/cd3next" in shown(live)

    chain.finish_chain_promotion(CHAIN, "staging")
    await world.cycle()
    await world.cycle()
    live_ts = slack.ts_of(live)
    ended, promoted = slack.posts()[1:]
    assert (ended["text"], ended["thread_ts"], ended["reply_broadcast"]) == (
        "rag / cd3next → staging: RELEASING → SUCCEEDED (100% of traffic)",
        live_ts,
        True,  # its end reaches the channel
    )
    assert "Baseten no longer shows the promotion and the candidate is current. *cd3next* is current." in shown(ended)
    assert (promoted["text"], promoted["thread_ts"], promoted["reply_broadcast"]) == (
        f"rag / cd3next: promoted → staging (was {NEW})",
        live_ts,
        False,
    )
    (edit,) = edits(slack)
    assert (edit["ts"], edit["text"]) == (live_ts, "rag / cd3next → staging: SUCCEEDED (100% of traffic)")
    assert ":white_check_mark: *Promotion succeeded*: *cd3next* → *staging* of *rag*" in shown(edit)


# -- the other commands: by name or by id, of its own kind ---------------------------------------------


async def test_mute_unmute_and_unsubscribe_name_a_chain_or_project_as_subscribe_does(
    world: World, chain: FakeBaseten, project: FakeBaseten, baseten: FakeBaseten
) -> None:
    """`subscribe chain:rag` is undone by `unsubscribe chain:rag`, by name or id; a model of the same name
    (`rag`) is another subject, and a bare `rag` names only the model."""
    baseten.add_model("mdl2rag", "rag", [deployment("dep9", "mdl2rag", is_production=True)])
    for text in ("subscribe chain:rag", "subscribe training:ft", "subscribe rag"):
        assert (await world.command(text))[1] == "in_channel", text
    muted, kind = await world.command("mute chain:rag 2h")
    assert kind == "in_channel" and muted.text == "Muted rag"
    assert "muted notices for *rag* / all chain deployments until" in shown(muted)
    unmuted, kind = await world.command("unmute Chain:ch1abc")  # by id, the prefix in any case
    assert kind == "in_channel" and unmuted.text == "Unmuted rag"
    muted, kind = await world.command("mute training:ft tj1done 1h")
    assert kind == "in_channel" and "muted notices for *ft* / *first-run* (`tj1done`) until" in shown(muted)
    gone, kind = await world.command("unsubscribe chain:rag")
    assert kind == "in_channel" and gone.text == "Unsubscribed from rag"
    assert "*rag* / all chain deployments." in shown(gone)
    again, _ = await world.command("unsubscribe chain:rag")
    assert again.text == "This channel is not subscribed to `chain:rag`; nothing changed."
    listing, _ = await world.command("list")
    assert listing.text == "2 subscription(s) in this channel"
    gone, _ = await world.command("unsubscribe rag")  # the model, not the chain (already gone) nor the project
    assert gone.text == "Unsubscribed from rag" and "*rag* / all deployments" in shown(gone)
    gone, _ = await world.command(f"unsubscribe training:{PROJECT}")
    assert gone.text == "Unsubscribed from ft"
    listing, _ = await world.command("list")
    assert "no subscriptions" in listing.text


# -- buttons: what the bot can act on -------------------------------------------------------------------


async def test_a_chain_or_job_notice_carries_only_buttons_the_bot_can_act_on(
    world: World, chain: FakeBaseten, project: FakeBaseten, slack: FakeSlack
) -> None:
    from bot.actions import buttons
    from bot.actions.verbs import decode
    from bot.delivery.notifier import Notifier
    from bot.polling.poller import Poller

    # as `serve` wires it when OPERATOR_USER_IDS is set (bot.app.runtime)
    world.notifier = Notifier(slack=world.slack, store=world.store, now=world.clock, channel_pace=0, buttons=buttons)
    world.poller = Poller(client=world.client, store=world.store, notifier=world.notifier, now=world.clock)
    project.add_job(training_job("tj2run", PROJECT, created_at=iso(world)))
    await world.command("subscribe chain:rag production")
    await world.command("subscribe training:ft tj2run")
    await world.cycle()
    chain.set_chainlet_status(CHAIN, PROD, "cl2gen", "UNHEALTHY")
    project.set_job_status(PROJECT, "tj2run", "TRAINING_JOB_FAILED", error_message="exit 1")
    await world.cycle()
    assert len(slack.posts()) == 2
    offered = [
        e["value"]
        for p in slack.posts()
        for b in json.loads(shown(p))
        for e in b.get("elements", [])
        if "value" in e and e.get("action_id") != "ack_alarm"  # Acknowledge names an alarm, not a target
    ]
    assert all(decode(value) is not None for value in offered), offered
    # the bot does not act on chains: the chain's failure carries nothing; the job's failure carries Recreate
    actions = {
        p["text"].split(":")[0]: [
            e["action_id"]
            for b in json.loads(shown(p))
            for e in b.get("elements", [])
            if str(e.get("action_id", "")).startswith("act_")
        ]
        for p in slack.posts()
    }
    assert [ids for name, ids in actions.items() if "rag" in name] == [[]], actions
    assert [ids for name, ids in actions.items() if "ft" in name] == [["act_ask_recreate"]], actions
