"""The fakes are the proof of every other test, so they are tested too: each refuses, or
reports, what the real service would refuse or what its published spec does not allow."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import MODEL, PROD
from tests.fakes import API_KEY, Canned, FakeBaseten, deployment, model
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
