"""Chains and training projects shown as models, their deployments and jobs as deployments.

Pure functions (no I/O), used by the client's dispatch (bot.baseten.client), so the poller,
the store and the cards handle a chain deployment or a training job exactly as a model's
deployment: one key (`chain:ID`, `training:ID`, bot.domain.subjects), one status, one diff.

- A chain deployment's status is its own, unless its own looks fine while a chainlet fails:
  then the failing chainlet's status, so `ACTIVE → UNHEALTHY` of one chainlet is heard as
  the chain deployment's. Every chainlet is kept in `parts` and diffed on its own.
- A training job's status is its `current_status`; its `error_message` and `updated_at`
  ride along as extra fields (the failure notice and the run's duration read them).
- A chain environment has no promotion object in ChainEnvironmentV1 (the list's EnvironmentV1
  has one: used when given): without one, while its candidate differs from its current
  deployment the bot shows a promotion `RELEASING`; when the candidate becomes current (or
  goes) the promotion ends as the bot infers for models.
- An entry of another chain or project (its `chain_id` or `training_project_id` not the key's)
  is unusable: left out of a list on its own, refused when asked for alone (`owner_problem`).
"""

from __future__ import annotations

from typing import Any

from bot.baseten.models import Deployment, Environment, Part, Promotion
from bot.baseten.runs import ChainDeployment, ChainEnvironment, TrainingJob
from bot.domain.status import FAILURES
from bot.domain.subjects import kind_of, own_id

# which failing chainlet's status stands for its chain deployment: the worst, then the lowest id, so the
# order Baseten lists chainlets in never changes the status
SEVERITY = {"BUILD_FAILED": 0, "DEPLOY_FAILED": 1, "FAILED": 2, "UNHEALTHY": 3}
PROMOTING = "RELEASING"  # Baseten's word for a promotion under way (InProgressPromotionV1.status)


def owner_problem(owner: str, key: str) -> str | None:
    """An entry of another chain or project in this one's answer: unusable (never announced or acted on)."""
    return f"a {kind_of(key).part} of {kind_of(key).noun} {owner[:80]!r}" if owner and owner != own_id(key) else None


def chain_deployment(dep: ChainDeployment, key: str) -> Deployment:
    """A chain deployment as a deployment of the chain keyed `key`."""
    failing = [c for c in dep.chainlets if c.status in FAILURES]
    worst = min(failing, key=lambda c: (SEVERITY.get(c.status, len(SEVERITY)), c.id), default=None)
    status = dep.status if dep.status in FAILURES or worst is None else worst.status
    counts = [c.active_replica_count for c in dep.chainlets if c.active_replica_count is not None]
    return Deployment(
        id=dep.id,
        status=status,
        model_id=key,
        created_at=dep.created_at,
        is_production=dep.environment == "production",
        is_development=False,
        active_replica_count=sum(counts) if counts else None,
        environment=dep.environment,
        parts=[Part(id=c.id, status=c.status, name=c.name) for c in dep.chainlets],
    )


def job_deployment(job: TrainingJob, key: str) -> Deployment:
    """A training job as a deployment of the project keyed `key`."""
    fields: dict[str, Any] = {
        "id": job.id,
        "status": job.current_status,
        "model_id": key,
        "name": job.name or "",
        "created_at": job.created_at,
        "is_production": False,
        "is_development": False,
        "instance_type_name": job.instance_type.name if job.instance_type else None,
        "error_message": job.error_message,
        "updated_at": job.updated_at.isoformat() if job.updated_at else None,
    }
    return Deployment.model_validate(fields)


def chain_environment(env: ChainEnvironment, key: str) -> Environment:
    """A chain environment as a model's: a candidate other than the current one is a promotion."""
    current = chain_deployment(env.current_deployment, key) if env.current_deployment else None
    candidate = chain_deployment(env.candidate_deployment, key) if env.candidate_deployment else None
    if candidate is not None and current is not None and candidate.id == current.id:
        candidate = None
    return Environment(
        name=env.name,
        model_id=key,
        created_at=env.created_at,
        current_deployment=current,
        candidate_deployment=candidate,
        in_progress_promotion=env.in_progress_promotion or (Promotion(status=PROMOTING) if candidate else None),
        promotion_settings=env.promotion_settings,
    )
