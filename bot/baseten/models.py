"""Baseten's domain types: deployments, models, audit-log entries, environments, promotions and logs.

Pure data (pydantic, no I/O): the core (render, transitions) imports these, never the client.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class AutoscalingSettings(_Lenient):
    """AutoscalingSettingsV1; every field kept, nullable where the spec allows."""

    min_replica: int | None = None
    max_replica: int | None = None
    autoscaling_window: int | None = None
    scale_down_delay: int | None = None
    concurrency_target: int | None = None
    target_utilization_percentage: int | None = None
    target_in_flight_tokens: int | None = None
    max_scale_down_rate: int | None = None


class Region(_Lenient):
    slug: str | None = None
    display_name: str | None = None


class Part(_Lenient):
    """One part of what a deployment stands for: a chain deployment's chainlet (bot.baseten adapts
    ChainletV1). Models' deployments have none."""

    id: str
    status: str
    name: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.id


class Deployment(_Lenient):
    """DeploymentV1. `status` is open-ended: an unknown value is kept verbatim.

    Only `id` and `status` are indispensable; a field the server left out stays
    None rather than failing the whole answer (shown as unknown, never guessed).
    """

    id: str
    status: str
    model_id: str = ""
    name: str = ""
    created_at: datetime | None = None
    is_production: bool | None = None
    is_development: bool | None = None
    active_replica_count: int | None = None
    autoscaling_settings: AutoscalingSettings | None = None
    instance_type_name: str | None = None
    environment: str | None = None
    labels: dict[str, Any] | None = None
    region: Region | None = None
    request_backpressure_settings: dict[str, Any] | None = None
    # not DeploymentV1's: a chain deployment's chainlets, or a training job's own fields, when the
    # bot shows one as a deployment (bot.baseten.adapt); None for a model's deployment
    parts: list[Part] | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.id


class Model(_Lenient):
    """ModelV1."""

    id: str
    name: str = ""
    created_at: datetime | None = None
    deployments_count: int | None = None
    production_deployment_id: str | None = None
    development_deployment_id: str | None = None
    instance_type_name: str | None = None
    team_name: str | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.id


class DeploymentList(_Lenient):
    deployments: list[Deployment]


@dataclass(frozen=True)
class Skipped:
    """A deployment of a list answer the bot cannot store or send back (an odd id, a name over its
    column): left out on its own, so the rest of its model is still heard (bot.baseten.client)."""

    id: str  # as Baseten sent it: shown shortened and escaped, never sent back
    reason: str
    is_production: bool = False
    is_development: bool = False


class Listed(list[Deployment]):
    """A model's deployments the bot can use, and the ones it had to leave out (`skipped`)."""

    def __init__(self, usable: Iterable[Deployment] = (), skipped: Iterable[Skipped] = ()) -> None:
        super().__init__(usable)
        self.skipped = tuple(skipped)


class ModelList(_Lenient):
    models: list[Model]


class AuditActor(_Lenient):
    type: str = ""
    email: str | None = None
    api_key_name: str | None = None
    api_key_prefix: str | None = None


class AuditLogEntry(_Lenient):
    id: str
    created: datetime | None = None
    event_type: str = ""
    event_data: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None
    actor: AuditActor = Field(default_factory=AuditActor)


class AuditLogPage(_Lenient):
    items: list[AuditLogEntry]


# -- environments, promotions and logs (management.json: EnvironmentV1, InProgressPromotionV1, LogV1) --


class Promotion(_Lenient):
    """InProgressPromotionV1. `status` is open-ended like a deployment's: RELEASING, RAMPING_UP,
    RAMPING_DOWN, PAUSED, SUCCEEDED, FAILED or CANCELED today, kept verbatim if new."""

    status: str
    percent_traffic_to_new_version: int | None = None
    error_message: str | None = None
    rolling_deploy: bool | None = None


class PromotionSettings(_Lenient):
    """PromotionSettingsV1."""

    redeploy_on_promotion: bool | None = None
    rolling_deploy: bool | None = None
    promotion_cleanup_strategy: str | None = None


class Environment(_Lenient):
    """EnvironmentV1: a model's environment (production, staging or a custom one)."""

    name: str
    model_id: str = ""
    created_at: datetime | None = None
    current_deployment: Deployment | None = None
    candidate_deployment: Deployment | None = None
    in_progress_promotion: Promotion | None = None
    autoscaling_settings: AutoscalingSettings | None = None
    promotion_settings: PromotionSettings | None = None
    instance_type: dict[str, Any] | None = None


class EnvironmentList(_Lenient):
    environments: list[Environment]


class LogLine(_Lenient):
    """LogV1. `timestamp` is epoch nanoseconds as a string; `level` is None when Baseten can't tell."""

    timestamp: str
    message: str
    replica: str | None = None
    request_id: str | None = None
    level: str | None = None


class LogPage(_Lenient):
    logs: list[LogLine]
