"""Chains and training projects beside models: the typed target, the stored key, the status words of a
training job, a chain deployment's chainlets in its snapshot and its notice, and the dashboard link.
Pure: plain values, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.actions.verbs import VERBS, Target, decode, encode, fits, fitting
from bot.baseten.models import Deployment, Part
from bot.commands.parse import parse
from bot.commands.typed import Act, Status, Subscribe, UsageError
from bot.domain.changes import NEW, PARTS, STATUS, Change
from bot.domain.status import FAILURES, IN_PROGRESS, KNOWN, Family, family
from bot.domain.subjects import Kind, key_of, kind_of, own_id, split_typed
from bot.polling.transitions import diff_deployment, parts_moved, snap_of
from bot.render import notices
from bot.render.cards import dashboard_url

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status chain:rag", Status("chain:rag", "*")),
        ("status Chain:rag abc123", Status("chain:rag", "abc123")),
        ("status chain:rag env:staging", Status("chain:rag", "env:staging")),
        ("status chain:rag production", Status("chain:rag", "production")),
        ("status training:ft job1", Status("training:ft", "job1")),
        ("subscribe TRAINING:ft --on failures", Subscribe("training:ft", "*", frozenset({"failures"}))),
        ("subscribe chain:rag env:production", Subscribe("chain:rag", "production")),
        ("stop training:ft job1", Act("stop", "training:ft", "job1")),
        ("recreate Training:ft job1", Act("recreate", "training:ft", "job1")),
    ],
)
def test_chain_and_training_targets_parse_like_models(text: str, expected: object) -> None:
    assert parse(text, statuses=KNOWN) == expected


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("status chain:", "`chain:` needs a chain id or name"),
        ("status training:", "`training:` needs a training project id or name"),
        ("status chain:a.b", "not a valid chain id or name"),
        ("status training:ft production", "A training project has jobs, not `production`"),
        ("subscribe training:ft env:staging", "A training project has jobs"),
        ("status chain:rag development", "A chain has no development deployment"),
        ("status training:ft job/1", "not a valid job id or name"),
        ("stop my-model v1", "`stop` acts on a training job: `/baseten stop training:PROJECT JOB`"),
        ("recreate chain:rag d1", "`recreate` acts on a training job"),
        ("retry training:ft job1", "`retry` acts on a model's deployment; a training job takes `stop` or `recreate`"),
        ("deactivate chain:rag d1", "the bot does not act on chains from Slack"),
        ("stop training:ft", "`stop` needs a training project and a job"),
        ("stop training:ft job1 job2", "Too many arguments"),
        ("stop training:ft env:x", "`stop` acts on a job, not an environment"),
    ],
)
def test_a_bad_chain_or_training_target_is_told_what_is_wrong(text: str, said: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text, statuses=KNOWN)
    assert said in str(caught.value)


def test_keys_of_the_three_kinds_never_meet_and_fit_the_id_columns() -> None:
    assert kind_of("llama") is Kind.MODEL and own_id("llama") == "llama"
    assert kind_of("chain:abc") is Kind.CHAIN and own_id("chain:abc") == "abc"
    assert kind_of("training:p1") is Kind.TRAINING and own_id("training:p1") == "p1"
    assert key_of(Kind.CHAIN, "a" * 58) == "chain:" + "a" * 58
    with pytest.raises(ValueError):
        key_of(Kind.TRAINING, "a" * 56)  # 9 + 56 > 64
    with pytest.raises(ValueError):
        key_of(Kind.CHAIN, "a b")
    assert split_typed("CHAIN:Rag") == (Kind.CHAIN, "Rag")


def test_training_job_statuses_have_families_and_unknown_ones_are_kept() -> None:
    assert family("TRAINING_JOB_FAILED") is Family.FAILED and "TRAINING_JOB_DEPLOY_FAILED" in FAILURES
    assert family("TRAINING_JOB_RUNNING") is Family.IN_PROGRESS and "TRAINING_JOB_PENDING" in IN_PROGRESS
    assert family("TRAINING_JOB_COMPLETED") is Family.HEALTHY
    assert family("TRAINING_JOB_STOPPED") is Family.INACTIVE
    assert family("TRAINING_JOB_SOMETHING_NEW") is Family.UNKNOWN
    assert parse("subscribe training:ft --on TRAINING_JOB_FAILED", statuses=KNOWN) == Subscribe(
        "training:ft", "*", frozenset({"TRAINING_JOB_FAILED"})
    )


def chain_dep(status: str, *parts: tuple[str, str, str]) -> Deployment:
    return Deployment(
        id="cd1",
        status=status,
        model_id="chain:rag",
        environment="production",
        is_production=True,
        parts=[Part(id=i, name=n, status=s) for i, n, s in parts],
    )


def test_a_chain_deployment_names_each_chainlet_whose_status_changed() -> None:
    before = snap_of(chain_dep("DEPLOYING", ("c1", "Embed", "DEPLOYING"), ("c2", "LLM", "ACTIVE")), NOW)
    after = chain_dep("ACTIVE", ("c1", "Embed", "ACTIVE"), ("c2", "LLM", "ACTIVE"), ("c3", "Rerank", "ACTIVE"))
    diff = diff_deployment(before, after, now=NOW + timedelta(minutes=1))
    (change,) = diff.changes
    assert change.kind == STATUS and (change.old_status, change.new_status) == ("DEPLOYING", "ACTIVE")
    assert change.detail[PARTS] == [["Embed", "DEPLOYING", "ACTIVE"], ["Rerank", None, "ACTIVE"]]
    assert diff.snaps[0].parts == (("c1", "Embed", "ACTIVE"), ("c2", "LLM", "ACTIVE"), ("c3", "Rerank", "ACTIVE"))
    text = str(notices.notice(change, model_name="rag", now=NOW).blocks)
    assert "chainlet *Embed*: `DEPLOYING` → `ACTIVE`" in text and "chainlet *Rerank*: new, `ACTIVE`" in text
    assert "LLM" not in text


def test_a_chainlet_moving_while_the_chain_keeps_its_status_is_kept_silently() -> None:
    before = snap_of(chain_dep("DEPLOYING", ("c1", "Embed", "DEPLOYING")), NOW)
    diff = diff_deployment(before, chain_dep("DEPLOYING", ("c1", "Embed", "ACTIVE")), now=NOW)
    assert diff.changes == [] and diff.snaps[0].parts == (("c1", "Embed", "ACTIVE"),)
    assert diff.snaps[0].since == NOW  # the chain's own status did not change: its since stays


def test_parts_moved_keeps_the_answers_order_and_names_a_nameless_chainlet_by_id() -> None:
    assert parts_moved((("a", "A", "ACTIVE"),), (("b", "", "BUILDING"), ("a", "A", "UNHEALTHY"))) == [
        ["b", None, "BUILDING"],
        ["A", "ACTIVE", "UNHEALTHY"],
    ]


def test_new_parts_are_named_by_what_they_are() -> None:
    new = diff_deployment(None, chain_dep("BUILDING"), now=NOW)
    assert new.changes == []  # a first sighting is a silent baseline, as for a model
    created = Change(NEW, "training:ft", "j1", "", None, "TRAINING_JOB_CREATED", NOW)
    message = notices.notice(created, model_name="ft", now=NOW)
    assert message.text == "ft / j1: new job → TRAINING_JOB_CREATED"


def test_dashboard_links_by_kind() -> None:
    assert dashboard_url("m1", "d1") == "https://app.baseten.co/models/m1/logs/d1"
    assert dashboard_url("chain:c1") == "https://app.baseten.co/chains/c1/overview"
    assert dashboard_url("chain:c1", "cd1") == "https://app.baseten.co/chains/c1/logs/cd1"
    assert dashboard_url("training:p1", "j1") == "https://app.baseten.co/training/p1/jobs/j1"


def test_a_training_job_gets_stop_while_it_runs_and_recreate_once_it_failed_or_was_stopped() -> None:
    job = {"kind": Kind.TRAINING, "production": False}
    assert fitting("TRAINING_JOB_RUNNING", **job) == ["stop"]  # type: ignore[arg-type]
    assert fitting("TRAINING_JOB_PENDING", **job) == ["stop"]  # type: ignore[arg-type]
    assert fitting("TRAINING_JOB_FAILED", **job) == ["recreate"]  # type: ignore[arg-type]
    assert fitting("TRAINING_JOB_STOPPED", **job) == ["recreate"]  # type: ignore[arg-type]
    assert fitting("TRAINING_JOB_COMPLETED", **job) == []  # type: ignore[arg-type]
    assert fitting("UNHEALTHY", production=True, kind=Kind.CHAIN) == []  # the bot does not act on chains
    assert "stop" not in fitting("ACTIVE", production=False) and "recreate" not in fitting("FAILED", production=False)
    assert not fits("promote", "ACTIVE", production=False, kind=Kind.TRAINING)
    assert fits("recreate", "TRAINING_JOB_FAILED", production=False, kind=Kind.TRAINING)


def test_a_job_button_carries_its_project_key_and_asks_for_the_jobs_own_path() -> None:
    target = Target("training:proj1", "job1", "production", "ft-llama", "run 7")
    verb, back = decode(encode("stop", target)) or (None, None)
    assert verb is VERBS["stop"] and back == target
    assert VERBS["stop"].request(target) == ("/v1/training_projects/proj1/jobs/job1/stop", {})
    assert VERBS["recreate"].request(target) == ("/v1/training_projects/proj1/jobs/job1/recreate", {})
    for forged in ("training:", "training:a b", "chain:x/y", "x" * 65, "chain:rag", "my-model"):
        assert decode(encode("stop", Target(forged, "job1"))) is None, forged
    for verb in ("retry", "deactivate", "promote", "pause_promotion"):  # a model's verbs on a job or chain
        assert decode(encode(verb, Target("training:proj1", "job1"))) is None, verb
        assert decode(encode(verb, Target("chain:rag", "d1"))) is None, verb
    ok, words = VERBS["recreate"].read({"training_job": {"id": "job2", "current_status": "TRAINING_JOB_CREATED"}})
    assert ok and words == "Baseten accepted it; the new job is `job2`"
    ok, words = VERBS["stop"].read({"training_job": {"id": "job1", "current_status": "TRAINING_JOB_STOPPED"}})
    assert ok and words == "Baseten accepted it; the job is `TRAINING_JOB_STOPPED`"


def test_the_terminal_card_and_overview_name_a_job_and_a_chain_deployment_as_what_they_are() -> None:
    from bot.baseten.models import Model
    from bot.render.cards import terminal_card, terminal_overview

    job = Deployment(id="tj1", status="TRAINING_JOB_RUNNING", model_id="training:tp1", name="run-7")
    card = terminal_card(job, model_name="ft", now=NOW)
    assert "Training project:   ft (tp1)" in card and "Job:                run-7 (tj1)" in card
    assert "Replicas" not in card and "Environment" not in card and "Concurrency" not in card
    chained = Deployment(id="cd1", status="ACTIVE", model_id="chain:ch1", is_production=True)
    assert "Chain:              rag (ch1)" in terminal_card(chained, model_name="rag", now=NOW)
    overview = terminal_overview(Model(id="chain:ch1", name="rag"), [chained])
    assert overview.startswith("rag (chain:ch1): 1 chain deployments")


def _chain(a: str, b: str, *, order: str = "AB") -> Deployment:
    from bot.baseten.adapt import chain_deployment
    from bot.baseten.runs import ChainDeployment, Chainlet

    parts = {"A": Chainlet(id="A", name="embed", status=a), "B": Chainlet(id="B", name="rerank", status=b)}
    raw = ChainDeployment(id="cd1", status="ACTIVE", chain_id="c1", chainlets=[parts[k] for k in order])
    return chain_deployment(raw, "chain:c1")


def test_a_second_chainlet_failing_is_a_failure_of_its_own_and_the_order_of_chainlets_changes_nothing() -> None:
    prev = snap_of(_chain("UNHEALTHY", "ACTIVE"), NOW)
    (change,) = diff_deployment(prev, _chain("UNHEALTHY", "DEPLOY_FAILED"), now=NOW + timedelta(minutes=1)).changes
    # the chain deployment already failed (UNHEALTHY, chainlet embed): now rerank fails too, and is heard
    assert (change.kind, change.old_status, change.new_status) == (STATUS, "UNHEALTHY", "DEPLOY_FAILED")
    assert change.detail[PARTS] == [["rerank", "ACTIVE", "DEPLOY_FAILED"]]
    prev = snap_of(_chain("UNHEALTHY", "DEPLOY_FAILED"), NOW)
    assert not diff_deployment(prev, _chain("UNHEALTHY", "DEPLOY_FAILED", order="BA"), now=NOW).changes
    assert _chain("UNHEALTHY", "UNHEALTHY", order="BA").status == "UNHEALTHY"
    prev = snap_of(_chain("UNHEALTHY", "ACTIVE"), NOW)
    (change,) = diff_deployment(prev, _chain("UNHEALTHY", "UNHEALTHY"), now=NOW).changes  # same status, new failure
    assert (change.old_status, change.new_status, change.detail[PARTS]) == (
        "UNHEALTHY",
        "UNHEALTHY",
        [["rerank", "ACTIVE", "UNHEALTHY"]],
    )


def test_a_projects_jobs_are_heard_by_deploys_and_failures_and_stuck_is_refused_for_a_project() -> None:
    from bot.polling.audience import passes as wants

    def job(old: str, new: str) -> Change:
        return Change(STATUS, "training:tp1", "tj1", "run-7", old, new, NOW)

    for old, new in [
        ("TRAINING_JOB_CREATED", "TRAINING_JOB_RUNNING"),
        ("TRAINING_JOB_RUNNING", "TRAINING_JOB_COMPLETED"),
        ("TRAINING_JOB_RUNNING", "TRAINING_JOB_STOPPED"),
    ]:
        assert wants(frozenset({"deploys"}), job(old, new)) and not wants(frozenset({"failures"}), job(old, new))
    failed = job("TRAINING_JOB_RUNNING", "TRAINING_JOB_FAILED")
    assert wants(frozenset({"failures"}), failed) and not wants(frozenset({"recoveries"}), failed)
    with pytest.raises(UsageError) as caught:
        parse("subscribe training:ft --stuck 45m", statuses=KNOWN)
    assert "`--stuck` is for deployments in motion" in str(caught.value)
    assert parse("subscribe chain:rag --stuck 45m", statuses=KNOWN)


def test_a_job_or_chain_deployment_of_another_is_not_this_ones() -> None:
    from bot.baseten.adapt import owner_problem

    assert owner_problem("tp1", "training:tp1") is None and owner_problem("", "training:tp1") is None
    assert owner_problem("tp2", "training:tp1") == "a job of training project 'tp2'"
    assert owner_problem("c9", "chain:c1") == "a chain deployment of chain 'c9'"
