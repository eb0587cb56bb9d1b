"""Baseten's chains and training jobs as it answers them (management.json: ChainV1,
ChainDeploymentV1, ChainletV1, ChainEnvironmentV1, TrainingProjectV1, TrainingJobV1,
TrainingJobCheckpointV1, GetTrainingJobQueueContextResponseV1).

Pure data, lenient like bot.baseten.models: a field the server left out stays None, an
unknown status is kept verbatim. bot.baseten.adapt shows them as models and deployments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from bot.baseten.models import AutoscalingSettings, Promotion, PromotionSettings, _Lenient


class Chain(_Lenient):
    """ChainV1."""

    id: str
    name: str = ""
    created_at: datetime | None = None
    deployments_count: int | None = None
    team_name: str | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.id


class ChainList(_Lenient):
    chains: list[Chain]


class Chainlet(_Lenient):
    """ChainletV1: one part of a chain deployment, with its own status and replicas."""

    id: str
    status: str
    name: str = ""
    instance_type_name: str | None = None
    active_replica_count: int | None = None
    autoscaling_settings: AutoscalingSettings | None = None


class ChainDeployment(_Lenient):
    """ChainDeploymentV1. `status` is the chain's own; each chainlet has one too."""

    id: str
    status: str
    chain_id: str = ""
    created_at: datetime | None = None
    environment: str | None = None
    chainlets: list[Chainlet] = Field(default_factory=list)


class ChainDeploymentList(_Lenient):
    deployments: list[ChainDeployment]


class ChainEnvironment(_Lenient):
    """ChainEnvironmentV1 (the list answer is typed EnvironmentsV1 in the spec; read alike). Without
    an in-progress promotion, a candidate is one while it differs from the current deployment
    (bot.baseten.adapt)."""

    name: str
    chain_id: str = ""
    created_at: datetime | None = None
    current_deployment: ChainDeployment | None = None
    candidate_deployment: ChainDeployment | None = None
    promotion_settings: PromotionSettings | None = None
    # not in ChainEnvironmentV1, but in the EnvironmentV1 the spec types the list with: used when given
    in_progress_promotion: Promotion | None = None


class ChainEnvironmentList(_Lenient):
    environments: list[ChainEnvironment]


class InstanceType(_Lenient):
    """InstanceTypeV1, the fields a notice shows."""

    id: str | None = None
    name: str | None = None
    gpu_count: int | None = None
    gpu_type: str | None = None


class ProjectSummary(_Lenient):
    id: str
    name: str = ""


class TrainingJob(_Lenient):
    """TrainingJobV1. `current_status` is open-ended (TRAINING_JOB_CREATED, …_RUNNING, …_FAILED)."""

    id: str
    current_status: str
    created_at: datetime | None = None
    updated_at: datetime | None = None
    error_message: str | None = None
    instance_type: InstanceType | None = None
    training_project_id: str = ""
    training_project: ProjectSummary | None = None
    name: str | None = None
    priority: int | None = None


class TrainingProject(_Lenient):
    """TrainingProjectV1, with its latest job."""

    id: str
    name: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    team_name: str | None = None
    latest_job: TrainingJob | None = None

    @property
    def display_name(self) -> str:
        return self.name or self.id


class TrainingProjectList(_Lenient):
    training_projects: list[TrainingProject]


class TrainingProjectAnswer(_Lenient):
    training_project: TrainingProject


class TrainingJobList(_Lenient):
    training_jobs: list[TrainingJob]


class TrainingJobAnswer(_Lenient):
    training_job: TrainingJob


class Checkpoint(_Lenient):
    """TrainingJobCheckpointV1."""

    checkpoint_id: str
    created_at: datetime | None = None
    checkpoint_type: str | None = None
    size_bytes: int | None = None


class CheckpointList(_Lenient):
    checkpoints: list[Checkpoint]


class Capacity(_Lenient):
    """CapacityAtSubmitV1: a GPU cap as it stands now."""

    gpu_type: str | None = None
    max_gpus: int | None = None
    min_gpus: int | None = None


class QueueEvent(_Lenient):
    """QueueEventV1."""

    training_job_id: str = ""
    status: str = ""
    created: datetime | None = None
    event_message: str | None = None


class QueueContext(_Lenient):
    """GetTrainingJobQueueContextResponseV1: why a pending job waits."""

    target_job_id: str = ""
    gpu_type: str = ""
    requested_gpus: int = 0
    submitted_at: datetime | None = None
    pending_seconds: int | None = None
    org_capacity: Capacity | None = None
    team_capacity: Capacity | None = None
    active_at_submit: list[Any] = Field(default_factory=list)
    pending_ahead_at_submit: list[Any] = Field(default_factory=list)
    events: list[QueueEvent] = Field(default_factory=list)
