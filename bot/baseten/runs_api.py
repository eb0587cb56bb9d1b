"""The chain and training-job endpoints, and the same subjects seen as models (bot.baseten.adapt).

A mixin of BasetenClient: its transport (`_get`, retries, the shared limiter) is the client's.
The `subject_*` methods answer for a key `chain:ID` or `training:ID` what the client's model
methods answer for a model id; the client dispatches to them (bot.baseten.client).
"""

from __future__ import annotations

import logging
from typing import Any

from bot.baseten import adapt
from bot.baseten.errors import BadResponse, NotFound
from bot.baseten.judge import judged, unusable
from bot.baseten.models import Deployment, Environment, Listed, LogLine, LogPage, Model, Skipped
from bot.baseten.paths import log_params, segment
from bot.baseten.runs import (
    Chain,
    ChainDeployment,
    ChainDeploymentList,
    ChainEnvironment,
    ChainEnvironmentList,
    ChainList,
    Checkpoint,
    CheckpointList,
    QueueContext,
    TrainingJob,
    TrainingJobAnswer,
    TrainingJobList,
    TrainingProject,
    TrainingProjectAnswer,
    TrainingProjectList,
)
from bot.baseten.transport import Transport
from bot.domain.ids import is_plain_id
from bot.domain.subjects import Kind, kind_of, own_id

log = logging.getLogger(__name__)


class RunsApi(Transport):
    """Chains (`/v1/chains…`) and training projects (`/v1/training_projects…`)."""

    def _log_skipped(self, model_id: str, item: str, problem: str) -> None:
        raise NotImplementedError  # BasetenClient's

    # -- chains ------------------------------------------------------------------

    async def list_chains(self, *, interactive: bool = False) -> list[Chain]:
        """Every chain of the key's team; one with an id the bot could not send back is left out."""
        body = await self._get("/v1/chains", ChainList, interactive=interactive, judge=False)
        return [c for c in body.chains if is_plain_id(c.id)]

    async def find_chains(self, name: str, *, interactive: bool = False) -> list[Chain]:
        """Chains named exactly `name` (the API has no name filter)."""
        return [c for c in await self.list_chains(interactive=interactive) if c.name == name]

    async def get_chain(self, chain_id: str, *, interactive: bool = False) -> Chain:
        return await self._get(f"/v1/chains/{segment(chain_id, 'chain id')}", Chain, interactive=interactive)

    async def list_chain_deployments(self, chain_id: str, *, interactive: bool = False) -> list[ChainDeployment]:
        path = f"/v1/chains/{segment(chain_id, 'chain id')}/deployments"
        return (await self._get(path, ChainDeploymentList, interactive=interactive, judge=False)).deployments

    async def get_chain_deployment(
        self, chain_id: str, deployment_id: str, *, interactive: bool = False
    ) -> ChainDeployment:
        path = f"/v1/chains/{segment(chain_id, 'chain id')}/deployments/{segment(deployment_id, 'deployment id')}"
        return await self._get(path, ChainDeployment, interactive=interactive)

    async def chainlet_logs(self, chain_id: str, deployment_id: str, chainlet_id: str, **query: Any) -> list[LogLine]:
        """One page of a chainlet's logs; `query` as BasetenClient.deployment_logs."""
        path = (
            f"/v1/chains/{segment(chain_id, 'chain id')}/deployments/{segment(deployment_id, 'deployment id')}"
            f"/chainlets/{segment(chainlet_id, 'chainlet id')}/logs"
        )
        return await self._logs(path, **query)

    async def list_chain_environments(self, chain_id: str, *, interactive: bool = False) -> list[ChainEnvironment]:
        path = f"/v1/chains/{segment(chain_id, 'chain id')}/environments"
        return (await self._get(path, ChainEnvironmentList, interactive=interactive, judge=False)).environments

    async def get_chain_environment(
        self, chain_id: str, env_name: str, *, interactive: bool = False
    ) -> ChainEnvironment:
        path = f"/v1/chains/{segment(chain_id, 'chain id')}/environments/{segment(env_name, 'environment name')}"
        return await self._get(path, ChainEnvironment, interactive=interactive, judge=False)

    # -- training ------------------------------------------------------------------

    async def list_training_projects(self, *, interactive: bool = False) -> list[TrainingProject]:
        body = await self._get("/v1/training_projects", TrainingProjectList, interactive=interactive, judge=False)
        return [p for p in body.training_projects if is_plain_id(p.id)]

    async def find_training_projects(self, name: str, *, interactive: bool = False) -> list[TrainingProject]:
        return [p for p in await self.list_training_projects(interactive=interactive) if p.name == name]

    async def get_training_project(self, project_id: str, *, interactive: bool = False) -> TrainingProject:
        path = f"/v1/training_projects/{segment(project_id, 'training project id')}"
        return (await self._get(path, TrainingProjectAnswer, interactive=interactive)).training_project

    async def list_training_jobs(self, project_id: str, *, interactive: bool = False) -> list[TrainingJob]:
        path = f"/v1/training_projects/{segment(project_id, 'training project id')}/jobs"
        return (await self._get(path, TrainingJobList, interactive=interactive, judge=False)).training_jobs

    async def get_training_job(self, project_id: str, job_id: str, *, interactive: bool = False) -> TrainingJob:
        path = job_path(project_id, job_id)
        return (await self._get(path, TrainingJobAnswer, interactive=interactive)).training_job

    async def training_job_logs(self, project_id: str, job_id: str, **query: Any) -> list[LogLine]:
        """One page of a job's logs; `query` as BasetenClient.deployment_logs."""
        return await self._logs(f"{job_path(project_id, job_id)}/logs", **query)

    async def training_checkpoints(self, project_id: str, job_id: str) -> list[Checkpoint]:
        path = f"{job_path(project_id, job_id)}/checkpoints"
        return (await self._get(path, CheckpointList, interactive=False, judge=False)).checkpoints

    async def queue_context(self, job_id: str) -> QueueContext:
        path = f"/v1/training/jobs/{segment(job_id, 'job id')}/queue_context"
        return await self._get(path, QueueContext, interactive=False, judge=False)

    async def _logs(
        self,
        path: str,
        *,
        start_epoch_millis: int | None = None,
        min_level: str | None = None,
        newest_first: bool = True,
        limit: int = 500,
        interactive: bool = False,
    ) -> list[LogLine]:
        params = log_params(
            start_epoch_millis=start_epoch_millis, min_level=min_level, newest_first=newest_first, limit=limit
        )
        return (await self._get(path, LogPage, params=params, interactive=interactive)).logs

    # -- the same, as models and deployments (keys `chain:ID`, `training:ID`) ----------

    async def subject_model(self, key: str, *, interactive: bool = False) -> Model:
        """The chain or project the key names, as a model keyed `key`; an answer about another is unusable."""
        own = own_id(key)
        if kind_of(key) is Kind.CHAIN:
            found: Chain | TrainingProject = await self.get_chain(own, interactive=interactive)
        else:
            found = await self.get_training_project(own, interactive=interactive)
        if found.id != own:
            raise BadResponse(f"Baseten answered about another {kind_of(key).noun} ({key[:80]})")
        judged(Model(id=own, name=found.name), key[:80])  # its name must fit where a model's goes
        return Model(id=key, name=found.name, created_at=found.created_at)

    async def subject_deployments(self, key: str, *, interactive: bool = False) -> Listed:
        """A chain's deployments or a project's jobs; an odd one (or another's) is left out on its own,
        as for a model."""
        own = own_id(key)
        found: list[tuple[str, Deployment]]
        if kind_of(key) is Kind.CHAIN:
            chained = await self.list_chain_deployments(own, interactive=interactive)
            found = [(d.chain_id, adapt.chain_deployment(d, key)) for d in chained]
        else:
            jobs = await self.list_training_jobs(own, interactive=interactive)
            found = [(j.training_project_id, adapt.job_deployment(j, key)) for j in jobs]
        usable, skipped = [], []
        for owner, dep in found:
            problem = adapt.owner_problem(owner, key) or unusable(dep)
            if problem is None:
                usable.append(dep)
            else:
                skipped.append(Skipped(dep.id, problem, bool(dep.is_production), False))
                self._log_skipped(key, dep.id, problem)
        return Listed(usable, skipped)

    async def subject_deployment(self, key: str, deployment_id: str, *, interactive: bool = False) -> Deployment:
        own, path = own_id(key), f"{key}/{deployment_id[:80]}"
        if kind_of(key) is Kind.CHAIN:
            chained = await self.get_chain_deployment(own, deployment_id, interactive=interactive)
            owner, dep = chained.chain_id, adapt.chain_deployment(chained, key)
        else:
            job = await self.get_training_job(own, deployment_id, interactive=interactive)
            owner, dep = job.training_project_id, adapt.job_deployment(job, key)
        problem = adapt.owner_problem(owner, key)
        if problem is not None:
            log.info("Baseten's answer to %s is unusable: %s", path, problem)
            raise BadResponse(f"Baseten sent an answer this bot cannot read ({path})")
        return judged(dep, path)

    async def subject_production(self, key: str, *, interactive: bool = False) -> Deployment:
        """A chain's production deployment (its production environment's current one); a training
        project has none (NotFound)."""
        if kind_of(key) is not Kind.CHAIN:
            raise NotFound("a training project has no production job")
        env = await self.subject_environment(key, "production", interactive=interactive)
        if env.current_deployment is None:
            raise NotFound("no production deployment")
        return env.current_deployment

    async def subject_environments(self, key: str, *, interactive: bool = False) -> list[Environment]:
        if kind_of(key) is not Kind.CHAIN:
            return []
        usable = []
        for raw in await self.list_chain_environments(own_id(key), interactive=interactive):
            env = adapt.chain_environment(raw, key)
            problem = unusable(env)
            if problem is None:
                usable.append(env)
            else:
                self._log_skipped(key, f"environment {env.name[:80]!r}", problem)
        return usable

    async def subject_environment(self, key: str, env_name: str, *, interactive: bool = False) -> Environment:
        if kind_of(key) is not Kind.CHAIN:
            raise NotFound("a training project has no environments")
        raw = await self.get_chain_environment(own_id(key), env_name, interactive=interactive)
        return judged(adapt.chain_environment(raw, key), f"{key}/environments/{env_name[:80]}")


def job_path(project_id: str, job_id: str) -> str:
    return f"/v1/training_projects/{segment(project_id, 'training project id')}/jobs/{segment(job_id, 'job id')}"
