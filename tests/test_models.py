"""The domain types the next features use parse what Baseten's published spec says it answers."""

from __future__ import annotations

from typing import Any

from bot.baseten.models import EnvironmentList, LogPage
from tests.fakes import deployment
from tests.spec import SPEC


def environments() -> dict[str, Any]:
    current = deployment("dep1", "m1", name="v3", is_production=True, environment="production")
    candidate = deployment("dep2", "m1", name="v4", status="DEPLOYING", environment="production")
    return {
        "environments": [
            {
                "name": "production",
                "created_at": "2026-11-20T10:00:00Z",
                "model_id": "m1",
                "current_deployment": current,
                "candidate_deployment": candidate,
                "in_progress_promotion": {"status": "RAMPING_UP", "percent_traffic_to_new_version": 30},
                "autoscaling_settings": current["autoscaling_settings"],
                "promotion_settings": {"rolling_deploy": True},
                "instance_type": {
                    "id": "L4x1",
                    "name": "1x L4",
                    "memory_limit_mib": 24576,
                    "millicpu_limit": 4000,
                    "gpu_count": 1,
                    "gpu_type": "L4",
                    "gpu_memory_limit_mib": 24576,
                },
            }
        ]
    }


def test_an_environment_with_a_rolling_promotion_parses() -> None:
    body = environments()
    operation = SPEC.operation("GET", "/v1/models/m1/environments")
    assert operation is not None and operation.check_answer(200, body) == []
    (env,) = EnvironmentList.model_validate(body).environments
    assert env.current_deployment is not None and env.current_deployment.name == "v3"
    assert env.candidate_deployment is not None and env.candidate_deployment.status == "DEPLOYING"
    assert env.in_progress_promotion is not None
    assert (env.in_progress_promotion.status, env.in_progress_promotion.percent_traffic_to_new_version) == (
        "RAMPING_UP",
        30,
    )


def test_log_lines_parse_with_and_without_a_level() -> None:
    body = {
        "logs": [
            {"timestamp": "1764237600000000000", "message": "CUDA out of memory", "replica": "r1", "level": "ERROR"},
            {"timestamp": "1764237500000000000", "message": "starting", "replica": None},
        ]
    }
    operation = SPEC.operation("GET", "/v1/models/m1/deployments/dep1/logs")
    assert operation is not None and operation.check_answer(200, body) == []
    first, second = LogPage.model_validate(body).logs
    assert (first.level, first.message) == ("ERROR", "CUDA out of memory")
    assert second.level is None and second.replica is None
