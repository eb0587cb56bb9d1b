"""The fakes are the proof of every other test, so they are tested too: each refuses, or
reports, what the real service would refuse or what its published spec does not allow."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.runtime import slack_client
from tests.conftest import MODEL, PROD
from tests.fakes import API_KEY, APP_TOKEN, BOT_TOKEN, BOT_USER, Canned, FakeBaseten, FakeSlack, deployment, model
from tests.spec import SPEC

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
