"""Chains and training projects through the real Baseten client, against the loopback fake (issue 23).

The chain and training endpoints as they are (list, find, get, logs), and a key `chain:ID` or
`training:ID` through the client's model methods, adapted to models, deployments and environments
(bot.baseten.adapt). Last, answers drawn at random from the spec's own schemas: the client answers
or says it could not read them (BadResponse), never anything else.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.baseten.client import BasetenClient
from bot.baseten.errors import AuthError, BadResponse, NotFound
from bot.baseten.judge import unusable
from bot.baseten.models import Listed
from bot.baseten.ratelimit import RateLimiter
from bot.baseten.runs import QueueContext
from bot.polling.fleet import read_fleet
from bot.polling.runs import queue_line
from tests.conftest import MODEL, any_database
from tests.fakes import API_KEY, Canned, FakeBaseten, Seen, _Fake, log_line
from tests.fakes_runs import chain_deployment, chainlet, training_job
from tests.test_spec_answers import instances

CHAIN, CHAIN_NAME = "ch1abc", "rag"
PROJECT, PROJECT_NAME = "tp1abc", "ft-llama"
CHAIN_KEY, PROJECT_KEY = f"chain:{CHAIN}", f"training:{PROJECT}"
PROD, NEW = "cd1prod", "cd2new"
DONE, RUNNING = "tj1done", "tj2run"

pytestmark = any_database  # no database: the client against the fake, once


@pytest.fixture
def runs(baseten: FakeBaseten) -> FakeBaseten:
    """The standard model, plus a chain (production with two chainlets, one building) and a project."""
    baseten.add_chain(
        CHAIN,
        CHAIN_NAME,
        [
            chain_deployment(
                PROD,
                CHAIN,
                environment="production",
                chainlets=[chainlet("cl1ret", "Retriever", replicas=2), chainlet("cl2gen", "Generator")],
            ),
            chain_deployment(NEW, CHAIN, status="BUILDING", created_at="2026-11-21T10:00:00Z"),
        ],
    )
    baseten.add_training_project(
        PROJECT,
        PROJECT_NAME,
        [
            training_job(
                DONE,
                PROJECT,
                status="TRAINING_JOB_COMPLETED",
                name="first",
                created_at="2026-11-20T10:00:00Z",
                updated_at="2026-11-20T12:30:00Z",
            ),
            training_job(RUNNING, PROJECT, created_at="2026-11-21T10:00:00Z"),
        ],
    )
    return baseten


@pytest.fixture
async def client(runs: FakeBaseten) -> AsyncIterator[BasetenClient]:
    c = BasetenClient(api_key=API_KEY, base_url=runs.url, limiter=RateLimiter(1000), timeout=2.0)
    yield c
    await c.aclose()


# -- the endpoints as they are ----------------------------------------------------------------------


async def test_chains_are_listed_found_by_name_and_read_by_id(client: BasetenClient, runs: FakeBaseten) -> None:
    runs.add_chain("ch2abc", "other", [])
    assert [c.id for c in await client.list_chains()] == [CHAIN, "ch2abc"]
    assert [c.id for c in await client.find_chains(CHAIN_NAME)] == [CHAIN]
    assert await client.find_chains("nope") == []
    chain = await client.get_chain(CHAIN)
    assert (chain.id, chain.display_name, chain.deployments_count, chain.team_name) == (CHAIN, "rag", 2, "ml-platform")
    with pytest.raises(NotFound):
        await client.get_chain("ch9none")
    deps = await client.list_chain_deployments(CHAIN)
    assert [(d.id, d.status, d.environment) for d in deps] == [(PROD, "ACTIVE", "production"), (NEW, "BUILDING", None)]
    assert [(c.id, c.name, c.active_replica_count) for c in deps[0].chainlets] == [
        ("cl1ret", "Retriever", 2),
        ("cl2gen", "Generator", 1),
    ]


async def test_projects_are_listed_found_by_name_and_read_by_id(client: BasetenClient) -> None:
    assert [p.id for p in await client.list_training_projects()] == [PROJECT]
    assert [p.id for p in await client.find_training_projects(PROJECT_NAME)] == [PROJECT]
    project = await client.get_training_project(PROJECT)
    assert project.display_name == PROJECT_NAME
    assert project.latest_job is not None and project.latest_job.id == RUNNING
    jobs = await client.list_training_jobs(PROJECT)
    assert [(j.id, j.current_status) for j in jobs] == [
        (DONE, "TRAINING_JOB_COMPLETED"),
        (RUNNING, "TRAINING_JOB_RUNNING"),
    ]
    job = await client.get_training_job(PROJECT, DONE)
    assert job.instance_type is not None and (job.instance_type.name, job.instance_type.gpu_count) == ("H100:2x", 2)
    assert job.training_project is not None and job.training_project.name == PROJECT_NAME
    with pytest.raises(NotFound):
        await client.get_training_job(PROJECT, "tj9none")


async def test_checkpoints_and_queue_context(client: BasetenClient, runs: FakeBaseten) -> None:
    runs.add_checkpoint(PROJECT, DONE, "ckpt-100", size_bytes=2048)
    runs.add_checkpoint(PROJECT, DONE, "ckpt-200")
    assert [c.checkpoint_id for c in await client.training_checkpoints(PROJECT, DONE)] == ["ckpt-100", "ckpt-200"]
    assert await client.training_checkpoints(PROJECT, RUNNING) == []
    runs.set_queue_context(RUNNING, {"requested_gpus": 8, "team_capacity": None})
    context = await client.queue_context(RUNNING)
    assert (context.target_job_id, context.gpu_type, context.requested_gpus) == (RUNNING, "H100", 8)
    with pytest.raises(NotFound):
        await client.queue_context(DONE)  # the fake has none for it


async def test_log_reads_send_only_the_specs_query_parameters(client: BasetenClient, runs: FakeBaseten) -> None:
    at = time.time()
    runs.add_chainlet_logs(
        CHAIN, PROD, "cl2gen", log_line("CUDA OOM", at=at - 20), log_line("ready", at=at - 10, level="INFO")
    )
    runs.add_job_logs(PROJECT, DONE, log_line("loss: nan", at=at - 20), log_line("step 9", at=at - 10, level=None))
    hour_ago = int((at - 3600) * 1000)
    chainlet_lines = await client.chainlet_logs(CHAIN, PROD, "cl2gen", start_epoch_millis=hour_ago, min_level="ERROR")
    assert [line.message for line in chainlet_lines] == ["CUDA OOM"]
    job_lines = await client.training_job_logs(PROJECT, DONE, start_epoch_millis=hour_ago, limit=5)
    assert [line.message for line in job_lines] == ["step 9", "loss: nan"]  # newest first
    with pytest.raises(ValueError, match="min_level"):
        await client.training_job_logs(PROJECT, DONE, min_level="error")
    with pytest.raises(ValueError, match="chainlet id"):
        await client.chainlet_logs(CHAIN, PROD, "cl 2")
    chainlet_asked, job_asked = runs.log_requests()
    assert chainlet_asked.path == f"/v1/chains/{CHAIN}/deployments/{PROD}/chainlets/cl2gen/logs"
    assert chainlet_asked.query == {
        "direction": ["desc"],
        "limit": ["500"],
        "min_level": ["ERROR"],
        "start_epoch_millis": [str(hour_ago)],
    }
    assert job_asked.path == f"/v1/training_projects/{PROJECT}/jobs/{DONE}/logs"
    assert job_asked.query == {"direction": ["desc"], "limit": ["5"], "start_epoch_millis": [str(hour_ago)]}
    # and the fake found nothing in either outside the spec (the `baseten` fixture fails on any)


# -- a key `chain:ID` / `training:ID` through the model methods ----------------------------------------


async def test_a_chain_key_is_a_model_its_deployments_deployments(client: BasetenClient, runs: FakeBaseten) -> None:
    model = await client.get_model(CHAIN_KEY)
    assert (model.id, model.display_name) == (CHAIN_KEY, CHAIN_NAME)
    listed = await client.list_deployments(CHAIN_KEY)
    assert isinstance(listed, Listed) and listed.skipped == ()
    assert [(d.id, d.status, d.model_id, d.is_production, d.environment) for d in listed] == [
        (PROD, "ACTIVE", CHAIN_KEY, True, "production"),
        (NEW, "BUILDING", CHAIN_KEY, False, None),
    ]
    prod = listed[0]
    assert prod.active_replica_count == 3  # its chainlets' together
    assert [(p.id, p.display_name, p.status) for p in prod.parts or ()] == [
        ("cl1ret", "Retriever", "ACTIVE"),
        ("cl2gen", "Generator", "ACTIVE"),
    ]
    assert [d.id for d in await client.list_deployments(CHAIN_KEY, name=NEW)] == [NEW]
    runs.set_chainlet_status(CHAIN, PROD, "cl2gen", "UNHEALTHY")  # the chain's own status still ACTIVE
    dep = await client.get_deployment(CHAIN_KEY, PROD)
    assert (dep.id, dep.status, dep.model_id) == (PROD, "UNHEALTHY", CHAIN_KEY)  # a failing chainlet's
    runs.set_chain_status(CHAIN, PROD, "DEPLOY_FAILED")
    assert (await client.get_deployment(CHAIN_KEY, PROD)).status == "DEPLOY_FAILED"  # its own failure first
    with pytest.raises(NotFound):
        await client.get_deployment(CHAIN_KEY, "cd9none")
    with pytest.raises(NotFound):
        await client.get_model("chain:ch9none")


async def test_a_chains_production_is_its_production_environments_current(
    client: BasetenClient, runs: FakeBaseten
) -> None:
    assert (await client.get_production_deployment(CHAIN_KEY)).id == PROD
    runs.add_chain("ch2abc", "bare", [chain_deployment("cd9", "ch2abc")])
    with pytest.raises(NotFound):
        await client.get_production_deployment("chain:ch2abc")  # no deployment is production
    with pytest.raises(NotFound):
        await client.get_development_deployment(CHAIN_KEY)


async def test_a_chain_candidate_is_a_promotion_releasing(client: BasetenClient, runs: FakeBaseten) -> None:
    runs.add_chain_environment(CHAIN, "staging", current=NEW)
    envs = await client.list_environments(CHAIN_KEY)
    assert [(e.name, e.current_deployment and e.current_deployment.id, e.in_progress_promotion) for e in envs] == [
        ("production", PROD, None),
        ("staging", NEW, None),
    ]
    runs.set_chain_candidate(CHAIN, "production", NEW)
    production = (await client.list_environments(CHAIN_KEY))[0]
    assert production.model_id == CHAIN_KEY
    assert production.candidate_deployment is not None and production.candidate_deployment.id == NEW
    assert production.candidate_deployment.model_id == CHAIN_KEY
    assert production.in_progress_promotion is not None and production.in_progress_promotion.status == "RELEASING"
    assert (await client.get_environment(CHAIN_KEY, "production")).in_progress_promotion is not None
    runs.finish_chain_promotion(CHAIN, "production")
    production = await client.get_environment(CHAIN_KEY, "production")
    assert production.current_deployment is not None and production.current_deployment.id == NEW
    assert production.candidate_deployment is None and production.in_progress_promotion is None
    with pytest.raises(NotFound):
        await client.get_environment(CHAIN_KEY, "qa")


async def test_a_candidate_equal_to_the_current_one_is_no_promotion(client: BasetenClient, runs: FakeBaseten) -> None:
    runs.set_chain_candidate(CHAIN, "production", PROD)  # as Baseten may leave it once a promotion is done
    env = await client.get_environment(CHAIN_KEY, "production")
    assert env.candidate_deployment is None and env.in_progress_promotion is None


async def test_a_training_key_is_a_model_its_jobs_deployments(client: BasetenClient, runs: FakeBaseten) -> None:
    model = await client.get_model(PROJECT_KEY)
    assert (model.id, model.display_name) == (PROJECT_KEY, PROJECT_NAME)
    listed = await client.list_deployments(PROJECT_KEY)
    assert [(d.id, d.status, d.model_id, d.display_name) for d in listed] == [
        (DONE, "TRAINING_JOB_COMPLETED", PROJECT_KEY, "first"),
        (RUNNING, "TRAINING_JOB_RUNNING", PROJECT_KEY, RUNNING),
    ]
    done = listed[0]
    assert done.instance_type_name == "H100:2x" and done.is_production is False and done.parts is None
    assert (done.model_extra or {})["updated_at"] == "2026-11-20T12:30:00+00:00"
    runs.set_job_status(PROJECT, RUNNING, "TRAINING_JOB_FAILED", error_message="NCCL timeout on rank 3")
    failed = await client.get_deployment(PROJECT_KEY, RUNNING)
    assert failed.status == "TRAINING_JOB_FAILED"
    assert (failed.model_extra or {})["error_message"] == "NCCL timeout on rank 3"
    with pytest.raises(NotFound):
        await client.get_production_deployment(PROJECT_KEY)
    with pytest.raises(NotFound):
        await client.get_environment(PROJECT_KEY, "production")
    assert await client.list_environments(PROJECT_KEY) == []


async def test_neither_has_an_audit_log_and_none_is_asked_for(client: BasetenClient, runs: FakeBaseten) -> None:
    assert await client.list_audit_logs(CHAIN_KEY) == []
    assert await client.list_audit_logs(PROJECT_KEY) == []
    assert runs.count() == 0


@pytest.mark.parametrize(
    ("odd", "reason"),
    [
        (
            chain_deployment("cd3odd", CHAIN, chainlets=[chainlet("cl 3", "Spaced")]),
            "chainlet id 'cl 3' is not a plain id",
        ),
        (chain_deployment("cd3odd", CHAIN, status="S" * 65), "is longer than 64 characters"),
    ],
    ids=["a chainlet id with a space", "a status over 64 characters"],
)
async def test_one_odd_chain_deployment_is_left_out_on_its_own(
    client: BasetenClient, runs: FakeBaseten, odd: dict[str, Any], reason: str
) -> None:
    runs.add_chain_deployment(odd)
    with runs.off_spec():  # a status the spec does not list (the bot keeps unknown ones): the test's point
        listed = await client.list_deployments(CHAIN_KEY)
        assert [d.id for d in listed] == [PROD, NEW]  # the rest of the chain is heard
        (skipped,) = listed.skipped
        assert skipped.id == "cd3odd" and reason in skipped.reason
        with pytest.raises(BadResponse):
            await client.get_deployment(CHAIN_KEY, "cd3odd")  # asked for on its own: unreadable, not half-read


async def test_the_fleet_detector_reads_each_kind_watched_and_one_kind_failing_keeps_the_others(
    client: BasetenClient, runs: FakeBaseten
) -> None:
    watched = [MODEL, CHAIN_KEY, PROJECT_KEY]
    first = await read_fleet(client, watched)
    assert first[CHAIN_KEY][0] == 2 and first[PROJECT_KEY][1:] == (RUNNING, "TRAINING_JOB_RUNNING")
    assert MODEL in first
    runs.script("/v1/training_projects", Canned(403, {"error": "training is not enabled for this key"}))
    before = {**first, PROJECT_KEY: (None, "tj0old", "TRAINING_JOB_RUNNING")}
    second = await read_fleet(client, watched, before)
    assert second[PROJECT_KEY] == before[PROJECT_KEY]  # kept as it was: neither compared nor poked
    assert second[MODEL] == first[MODEL] and second[CHAIN_KEY] == first[CHAIN_KEY]  # the others still read
    runs.script("/v1/", *[Canned(403, {"error": "no"})] * 3)
    with pytest.raises(AuthError):  # nothing could be read: the detector says so (and compares nothing)
        await read_fleet(client, watched, before)


# -- answers drawn from the spec's schemas -----------------------------------------------------------


# every chain and training path the bot reads (ids as `{}`) -> the schema of its answer in the spec
SCHEMAS = {
    "chains": "ChainsV1",
    "chains/{}": "ChainV1",
    "chains/{}/deployments": "ChainDeploymentsV1",
    "chains/{}/deployments/{}": "ChainDeploymentV1",
    "chains/{}/deployments/{}/chainlets/{}/logs": "GetLogsResponseV1",
    "chains/{}/environments": "EnvironmentsV1",  # as the spec types it (the bot reads chain-shaped items)
    "chains/{}/environments/{}": "ChainEnvironmentV1",
    "training_projects": "ListTrainingProjectsResponseV1",
    "training_projects/{}": "GetTrainingProjectResponseV1",
    "training_projects/{}/jobs": "ListTrainingJobsResponseV1",
    "training_projects/{}/jobs/{}": "GetTrainingJobResponseV1",
    "training_projects/{}/jobs/{}/logs": "GetLogsResponseV1",
    "training_projects/{}/jobs/{}/checkpoints": "GetTrainingJobCheckpointsResponseV1",
    "training/jobs/{}/queue_context": "GetTrainingJobQueueContextResponseV1",
}
WORDS = {w for pattern in SCHEMAS for w in pattern.split("/")} - {"{}"}


def pattern(path: str) -> str:
    """`/v1/chains/ch1/deployments` -> `chains/{}/deployments`."""
    segs = [urllib.parse.unquote(s) for s in path.split("/") if s][1:]
    return "/".join(s if s in WORDS else "{}" for s in segs)


class SpecRuns(_Fake):
    """Answers a chain's or a project's reads with a body drawn from that endpoint's schema."""

    def __init__(self) -> None:
        self.bodies: dict[str, Any] = {}
        super().__init__()

    def answer(self, seen: Seen) -> tuple[int, Any, dict[str, str], float, bytes | None]:
        name = SCHEMAS.get(pattern(seen.path))
        if name is None:
            return 404, {"error": "Not found"}, {}, 0.0, None
        with self.lock:
            body = json.loads(json.dumps(self.bodies[name]))
            segs = [urllib.parse.unquote(s) for s in seen.path.split("/") if s]
            if self.bodies.get("_own") and len(segs) > 2:  # an answer about what was asked: the path's owner
                _own(body, segs[2])
            return 200, body, {}, 0.0, None


def _own(body: Any, owner: str) -> None:
    """Every chain_id and training_project_id in the answer set to `owner` (the ids stay as drawn)."""
    if isinstance(body, dict):
        for key in ("chain_id", "training_project_id"):
            if key in body:
                body[key] = owner
        for value in body.values():
            _own(value, owner)
    elif isinstance(body, list):
        for value in body:
            _own(value, owner)


@pytest.fixture
def spec_runs() -> Iterator[SpecRuns]:
    fake = SpecRuns()
    yield fake
    fake.close()


DRAWN = st.fixed_dictionaries(
    {name: instances({"$ref": f"#/components/schemas/{name}"}) for name in set(SCHEMAS.values())}
    | {"_own": st.booleans()}
)
FEW = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_spec_answers_are_read_or_refused_never_anything_else(spec_runs: SpecRuns) -> None:
    outcomes: set[str] = set()

    async def other_reads(key: str) -> None:
        """Every other read of a chain or project the bot makes: an answer or BadResponse, nothing else."""
        kind = "chain" if key.startswith("chain:") else "training"
        calls: list[Any] = [
            client.get_model(key),
            client.list_environments(key),
            read_fleet(client, [key]),
        ]
        if kind == "chain":
            calls += [
                client.get_environment(key, "staging"),
                client.get_production_deployment(key),
                client.chainlet_logs("ch1", "dep1", "cl1", min_level="ERROR"),
            ]
        else:
            calls += [
                client.training_job_logs("tp1", "dep1", min_level="ERROR"),
                client.training_checkpoints("tp1", "dep1"),
                client.queue_context("dep1"),
            ]
        for call in calls:
            try:
                got = await call
            except (BadResponse, NotFound):  # NotFound: a chain whose production environment has no current one
                outcomes.add("refused other")
                continue
            outcomes.add("read other")
            if isinstance(got, QueueContext):
                assert queue_line(got).startswith("Waiting for")

    async def read(key: str) -> None:
        await other_reads(key)
        try:
            listed = await client.list_deployments(key)
        except BadResponse:
            outcomes.add("refused")
        else:
            assert all(unusable(d) is None and d.model_id == key for d in listed), listed
            outcomes.add("skipped" if listed.skipped else "read")
        try:
            dep = await client.get_deployment(key, "dep1")
        except BadResponse:
            outcomes.add("refused one")
        else:
            assert unusable(dep) is None and dep.model_id == key
            outcomes.add("read one")

    @FEW
    @given(DRAWN)
    def drawn(bodies: dict[str, Any]) -> None:
        with spec_runs.lock:
            spec_runs.bodies = bodies
        runner.run(read("chain:ch1"))
        runner.run(read("training:tp1"))

    with asyncio.Runner() as runner:
        client = BasetenClient(api_key=API_KEY, base_url=spec_runs.url, limiter=RateLimiter(1000), timeout=2.0)
        try:
            drawn()
        finally:
            runner.run(client.aclose())
    assert {"read", "skipped", "read one", "refused one", "read other"} <= outcomes, outcomes
