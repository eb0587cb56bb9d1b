"""The fakes are the proof of every other test, so they are tested too: each refuses, or
reports, what the real service would refuse or what its published spec does not allow."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.runtime import slack_client
from tests.conftest import MODEL, PROD
from tests.fakes import (
    API_KEY,
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER,
    Canned,
    FakeBaseten,
    FakeSlack,
    deployment,
    log_line,
    model,
)
from tests.fakes_runs import CREATED, chain_deployment, chainlet, training_job
from tests.spec import PUBLISHED, SPEC

COMPONENTS = {"components": json.loads(PUBLISHED.read_text())["components"]}

AUTH = {"Authorization": f"Api-Key {API_KEY}"}


@pytest.fixture
def loose() -> Iterator[FakeBaseten]:
    """A fake Baseten whose violations the test inspects itself (the `baseten` fixture fails on any)."""
    fake = FakeBaseten()
    fake.add_model(MODEL, "llama", [deployment(PROD, MODEL, is_production=True)])
    yield fake
    fake.close()


def get(fake: FakeBaseten, path: str, headers: dict[str, str] = AUTH, **params: str) -> httpx.Response:
    return httpx.get(fake.url + path, params=params, headers=headers, timeout=5)


def test_the_fakes_objects_carry_every_field_the_published_spec_requires() -> None:
    dep = deployment(PROD, MODEL)
    assert set(SPEC.required("DeploymentV1")) <= set(dep)
    assert set(SPEC.required("AutoscalingSettingsV1")) <= set(dep["autoscaling_settings"])
    assert set(SPEC.required("ModelV1")) <= set(model(MODEL, "llama", [dep]))


def test_a_query_parameter_the_spec_does_not_declare_is_a_violation(loose: FakeBaseten) -> None:
    assert get(loose, "/v1/models", name="llama").status_code == 200  # Baseten ignores it ...
    assert len(get(loose, "/v1/models", name="other").json()["models"]) == 1  # ... and so does the fake
    assert len(loose.violations) == 2 and "'name' is not in the spec" in loose.violations[0]


def test_audit_log_queries_are_checked_against_the_subset(loose: FakeBaseten) -> None:
    assert get(loose, f"/v1/models/{MODEL}/audit_logs", limit="20", direction="DESC").status_code == 200
    assert loose.violations == []
    get(loose, f"/v1/models/{MODEL}/audit_logs", limit="500", direction="SIDEWAYS")
    assert len(loose.violations) == 1
    assert "500 is greater than the maximum of 200" in loose.violations[0]
    assert "'SIDEWAYS' is not one of" in loose.violations[0]


def test_an_operation_the_spec_lacks_is_a_violation(loose: FakeBaseten) -> None:
    assert get(loose, f"/v1/models/{MODEL}/deployments/{PROD}/status").status_code == 404
    assert loose.violations and "no such operation" in loose.violations[0]


@pytest.mark.parametrize(
    ("canned", "why"),
    [
        (Canned(429, {"retry_after": 1}), "'error' is a required property"),
        (Canned(429, {"error": "slow down", "retry_after": 1.5}), "1.5 is not of type 'integer'"),
        (Canned(429, {"error": "slow down"}), "'retry_after' is a required property"),
        (Canned(503, {"message": "down"}), "'error' is a required property"),
        (Canned(502, raw=b"<html>bad gateway</html>"), "is not of type 'object'"),
        (Canned(200, {"deployments": [{"id": PROD}]}), "'created_at' is a required property"),
    ],
)
def test_scripted_answers_are_checked_too(loose: FakeBaseten, canned: Canned, why: str) -> None:
    loose.script("/v1/", canned)
    get(loose, f"/v1/models/{MODEL}/deployments")
    assert len(loose.violations) == 1 and why in loose.violations[0]


def test_a_deliberately_odd_answer_is_marked_as_such(loose: FakeBaseten) -> None:
    loose.script("/v1/", Canned(502, raw=b"<html>bad gateway</html>", off_spec=True), Canned(500, drop=True))
    assert get(loose, "/v1/models").status_code == 502
    with pytest.raises(httpx.TransportError):
        get(loose, "/v1/models")
    assert get(loose, "/v1/models").status_code == 200
    assert loose.violations == []


def test_off_spec_is_restored_whatever_happens_inside(loose: FakeBaseten) -> None:
    loose.set_status(MODEL, PROD, "TELEPORTING")
    with pytest.raises(RuntimeError), loose.off_spec():
        assert get(loose, f"/v1/models/{MODEL}/deployments/{PROD}").json()["status"] == "TELEPORTING"
        raise RuntimeError("a failing assertion inside the block")
    assert loose.off_spec_ok is False and loose.violations == []
    get(loose, f"/v1/models/{MODEL}/deployments/{PROD}")
    assert len(loose.violations) == 1 and "'TELEPORTING' is not one of" in loose.violations[0]


def test_both_documented_key_schemes_are_accepted_and_nothing_else(loose: FakeBaseten) -> None:
    assert get(loose, "/v1/models", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
    assert get(loose, "/v1/models", headers={"Authorization": f"Api-Key {API_KEY}"}).status_code == 200
    assert get(loose, "/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert get(loose, "/v1/models", headers={}).json() == {"error": "Invalid API key"}
    assert loose.violations == []


# -- Slack ----------------------------------------------------------------------------


async def slack_error(call: Awaitable[Any]) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call
    assert caught.value.response.status_code == 200  # Slack refuses with HTTP 200 and ok: false
    return str(caught.value.response["error"])


@pytest.fixture
async def web(slack: FakeSlack) -> AsyncIterator[AsyncWebClient]:
    """The bot's own Slack client, holding the bot token."""
    client = slack_client(BOT_TOKEN, slack.api_url)
    yield client
    if client.session is not None:
        await client.session.close()


async def test_every_web_api_call_needs_the_right_token(slack: FakeSlack, web: AsyncWebClient) -> None:
    assert (await web.auth_test())["user_id"] == BOT_USER
    assert slack.calls("auth.test")[0].headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    refusals = [(None, "not_authed"), ("xoxb-someone-else", "invalid_auth"), (APP_TOKEN, "not_allowed_token_type")]
    for token, error in refusals:
        other = AsyncWebClient(token=token, base_url=slack.api_url)
        assert await slack_error(other.chat_postMessage(channel="C1", text="hi")) == error, token
        assert await slack_error(other.usergroups_users_list(usergroup="S1")) == error, token
    assert slack.posts() == []
    apps = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    assert await slack_error(apps.apps_connections_open(app_token=BOT_TOKEN)) == "not_allowed_token_type"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_a_message_needs_a_channel_and_text_or_blocks(slack: FakeSlack, web: AsyncWebClient) -> None:
    assert await slack_error(web.chat_postMessage(channel="", text="hi")) == "channel_not_found"
    assert await slack_error(web.chat_postMessage(channel="C1", text="")) == "no_text"
    assert await slack_error(web.chat_postMessage(channel="C1", text="", blocks=[])) == "no_text"
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    assert (await web.chat_postMessage(channel="C1", blocks=blocks))["ok"]
    assert (await web.chat_postMessage(channel="C1", text="hi"))["ok"]
    assert len(slack.posts()) == 2


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_replies_and_edits_only_to_messages_it_issued(slack: FakeSlack, web: AsyncWebClient) -> None:
    parent = (await web.chat_postMessage(channel="C1", text="parent"))["ts"]
    reply = await web.chat_postMessage(channel="C1", text="reply", thread_ts=parent)
    assert reply["message"]["thread_ts"] == parent
    assert await slack_error(web.chat_postMessage(channel="C1", text="r", thread_ts="1699999999.000001")) == (
        "thread_not_found"
    )
    assert await slack_error(web.chat_postMessage(channel="C2", text="r", thread_ts=parent)) == "thread_not_found"
    assert await slack_error(web.chat_postMessage(channel="C1", text="r", thread_ts="0")) == "invalid_thread_ts"
    assert (await web.chat_update(channel="C1", ts=parent, text="edited"))["ts"] == parent
    assert await slack_error(web.chat_update(channel="C1", ts="1699999999.000001", text="x")) == "message_not_found"
    assert await slack_error(web.chat_update(channel="C2", ts=parent, text="x")) == "message_not_found"
    assert await slack_error(web.chat_update(channel="C1", ts=parent, text="")) == "no_text"


async def test_unknown_methods_and_user_groups(slack: FakeSlack, web: AsyncWebClient) -> None:
    assert await slack_error(web.api_call("chat.postMessages", json={"channel": "C1", "text": "x"})) == "unknown_method"
    slack.usergroups["S0ADMINS"] = ["U1", "U2"]
    got = await web.usergroups_users_list(usergroup="S0ADMINS")
    assert got.data == {"ok": True, "users": ["U1", "U2"]}
    assert await slack_error(web.usergroups_users_list(usergroup="S0NOPE")) == "no_such_subteam"


async def test_a_revoked_token_is_refused_on_every_call(slack: FakeSlack, web: AsyncWebClient) -> None:
    slack.token_error = "token_revoked"
    assert await slack_error(web.auth_test()) == "token_revoked"
    assert await slack_error(web.chat_postMessage(channel="C1", text="hi")) == "token_revoked"


# -- chains and training projects (tests.fakes_runs) ----------------------------------------


@pytest.fixture
def runs() -> Iterator[FakeBaseten]:
    """A chain with a production and a staging deployment, and a project with a finished and a pending job."""
    fake = FakeBaseten()
    fake.add_chain(
        "ch1",
        "rag",
        [
            chain_deployment("cd1", "ch1", environment="production", chainlets=[chainlet("cl1", "Retriever")]),
            chain_deployment("cd2", "ch1", status="BUILDING"),
        ],
    )
    fake.add_chain_environment("ch1", "staging", current="cd2")
    fake.add_training_project(
        "tp1",
        "ft-llama",
        [
            training_job("tj1", "tp1", status="TRAINING_JOB_COMPLETED", updated_at="2026-11-20T12:00:00Z"),
            training_job("tj2", "tp1", status="TRAINING_JOB_PENDING", created_at="2026-11-21T10:00:00Z"),
        ],
    )
    yield fake
    fake.close()


def test_the_run_builders_carry_every_field_the_published_spec_requires() -> None:
    dep = chain_deployment("cd1", "ch1")
    assert set(SPEC.required("ChainDeploymentV1")) <= set(dep)
    assert set(SPEC.required("ChainletV1")) <= set(dep["chainlets"][0])
    job = training_job("tj1", "tp1")
    assert set(SPEC.required("TrainingJobV1")) <= set(job)
    assert set(SPEC.required("InstanceTypeV1")) <= set(job["instance_type"])
    assert job["instance_type"]["gpu_count"] == 2 and job["instance_type"]["gpu_type"] == "H100"


def test_every_chain_and_training_read_answers_inside_the_spec(runs: FakeBaseten) -> None:
    at = time.time()
    runs.add_chainlet_logs("ch1", "cd1", "cl1", log_line("index missing", at=at - 5))
    runs.add_job_logs("tp1", "tj1", log_line("loss: nan", at=at - 5), log_line("step 10", at=at - 4, level="INFO"))
    runs.add_checkpoint("tp1", "tj1", "ckpt-1")
    runs.set_queue_context("tj2", {"events": [{"training_job_id": "tj2", "status": "PENDING", "created": CREATED}]})
    assert [c["name"] for c in get(runs, "/v1/chains").json()["chains"]] == ["rag"]
    assert get(runs, "/v1/chains/ch1").json()["deployments_count"] == 2
    assert [d["id"] for d in get(runs, "/v1/chains/ch1/deployments").json()["deployments"]] == ["cd1", "cd2"]
    assert get(runs, "/v1/chains/ch1/deployments/cd2").json()["status"] == "BUILDING"
    logs = get(runs, "/v1/chains/ch1/deployments/cd1/chainlets/cl1/logs", min_level="ERROR", direction="desc")
    assert [line["message"] for line in logs.json()["logs"]] == ["index missing"]
    envs = get(runs, "/v1/chains/ch1/environments").json()["environments"]
    assert [(e["name"], e["current_deployment"]["id"]) for e in envs] == [("production", "cd1"), ("staging", "cd2")]
    assert get(runs, "/v1/chains/ch1/environments/staging").json()["candidate_deployment"] is None
    assert [p["latest_job"]["id"] for p in get(runs, "/v1/training_projects").json()["training_projects"]] == ["tj2"]
    assert get(runs, "/v1/training_projects/tp1").json()["training_project"]["name"] == "ft-llama"
    jobs = get(runs, "/v1/training_projects/tp1/jobs").json()["training_jobs"]
    assert [(j["id"], j["training_project"]["name"]) for j in jobs] == [("tj1", "ft-llama"), ("tj2", "ft-llama")]
    assert get(runs, "/v1/training_projects/tp1/jobs/tj2").json()["training_job"]["current_status"] == (
        "TRAINING_JOB_PENDING"
    )
    logs = get(runs, "/v1/training_projects/tp1/jobs/tj1/logs", min_level="ERROR")
    assert [line["message"] for line in logs.json()["logs"]] == ["loss: nan"]
    ckpts = get(runs, "/v1/training_projects/tp1/jobs/tj1/checkpoints").json()["checkpoints"]
    assert [c["checkpoint_id"] for c in ckpts] == ["ckpt-1"]
    assert get(runs, "/v1/training/jobs/tj2/queue_context").json()["requested_gpus"] == 2
    for missing in ("/v1/chains/nope", "/v1/chains/ch1/deployments/cd9", "/v1/training/jobs/tj1/queue_context"):
        assert get(runs, missing).status_code == 404, missing
    assert get(runs, "/v1/chains/ch1/deployments/cd1/chainlets/cl9/logs").status_code == 404
    assert runs.violations == []


def test_a_chain_environment_list_is_spec_valid_as_a_list_of_chain_environments(runs: FakeBaseten) -> None:
    """The spec declares the list EnvironmentsV1 (a model's); the fake answers what a chain's are, and
    tests.spec accepts that form: checked here against ChainEnvironmentV1 alone."""
    body = get(runs, "/v1/chains/ch1/environments").json()
    chain_env = Draft202012Validator({"$ref": "#/components/schemas/ChainEnvironmentV1", **COMPONENTS})
    assert all(not list(chain_env.iter_errors(e)) for e in body["environments"])
    declared = Draft202012Validator({"$ref": "#/components/schemas/EnvironmentsV1", **COMPONENTS})
    assert list(declared.iter_errors(body))  # not the declared type: the checker reads it wider
    assert SPEC.operation("GET", "/v1/chains/ch1/environments").check_answer(200, body) == []
    assert SPEC.operation("GET", "/v1/chains/ch1/environments").check_answer(200, {"environments": [{}]}) != []


def test_a_chain_promotion_is_a_candidate_that_becomes_current(runs: FakeBaseten) -> None:
    runs.set_chain_candidate("ch1", "production", "cd2")
    env = get(runs, "/v1/chains/ch1/environments/production").json()
    assert (env["current_deployment"]["id"], env["candidate_deployment"]["id"]) == ("cd1", "cd2")
    runs.finish_chain_promotion("ch1", "production")
    env = get(runs, "/v1/chains/ch1/environments/production").json()
    assert (env["current_deployment"]["id"], env["candidate_deployment"]) == ("cd2", None)
    deps = {d["id"]: d["environment"] for d in get(runs, "/v1/chains/ch1/deployments").json()["deployments"]}
    assert deps == {"cd1": None, "cd2": "production"}
    assert get(runs, "/v1/chains/ch1/environments/staging").json()["current_deployment"] is None  # cd2 left it
    assert runs.violations == []


def test_chain_and_chainlet_statuses_move_apart(runs: FakeBaseten) -> None:
    runs.set_chainlet_status("ch1", "cd1", "cl1", "UNHEALTHY")
    dep = get(runs, "/v1/chains/ch1/deployments/cd1").json()
    assert (dep["status"], dep["chainlets"][0]["status"]) == ("ACTIVE", "UNHEALTHY")
    runs.set_chain_status("ch1", "cd1", "DEPLOYING", chainlets=True)
    dep = get(runs, "/v1/chains/ch1/deployments/cd1").json()
    assert (dep["status"], dep["chainlets"][0]["status"]) == ("DEPLOYING", "DEPLOYING")


def test_a_job_is_stopped_and_recreated_as_baseten_answers(runs: FakeBaseten) -> None:
    stopped = httpx.post(runs.url + "/v1/training_projects/tp1/jobs/tj2/stop", json={}, headers=AUTH, timeout=5)
    assert stopped.status_code == 200 and stopped.json()["training_job"]["current_status"] == "TRAINING_JOB_STOPPED"
    again = httpx.post(runs.url + "/v1/training_projects/tp1/jobs/tj2/stop", json={}, headers=AUTH, timeout=5)
    assert again.status_code == 400 and "only a running job" in again.json()["error"]
    made = httpx.post(runs.url + "/v1/training_projects/tp1/jobs/tj2/recreate", headers=AUTH, timeout=5)
    new = made.json()["training_job"]
    assert made.status_code == 200 and new["id"] != "tj2" and new["current_status"] == "TRAINING_JOB_CREATED"
    jobs = get(runs, "/v1/training_projects/tp1/jobs").json()["training_jobs"]
    assert [j["id"] for j in jobs] == ["tj1", "tj2", new["id"]]
    assert [r.path.rsplit("/", 1)[1] for r in runs.posts()] == ["stop", "stop", "recreate"]
    assert runs.posts("/recreate")[0].body == b""
    assert runs.violations == []


def test_a_training_log_query_outside_the_spec_is_a_violation(runs: FakeBaseten) -> None:
    get(runs, "/v1/training_projects/tp1/jobs/tj1/logs", replica="r1")  # a chainlet's logs take it; a job's not
    assert len(runs.violations) == 1 and "'replica' is not in the spec" in runs.violations[0]
    runs.violations.clear()
