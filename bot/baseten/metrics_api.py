"""The deployment metrics endpoint (`GET /v1/models/{model_id}/deployments/{deployment_id}/metrics`),
read by the promotion guard (issue 24).

A mixin of BasetenClient: its transport (`_get`, retries, the shared limiter) is the client's.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.baseten.errors import BadResponse, NotFound
from bot.baseten.metrics import DeploymentMetrics, unreadable
from bot.baseten.paths import metric_params, segment
from bot.baseten.transport import Transport
from bot.domain.subjects import Kind, kind_of

log = logging.getLogger(__name__)


class MetricsApi(Transport):
    """A model deployment's metrics: requests by status class, latency quantiles, active replicas."""

    async def deployment_metrics(
        self,
        model_id: str,
        deployment_id: str,
        *,
        mode: str = "SUMMARY",
        start_epoch_millis: int | None = None,
        end_epoch_millis: int | None = None,
        metrics: Sequence[str] | None = None,
        interactive: bool = False,
    ) -> DeploymentMetrics:
        """A deployment's metrics over a window, with only the spec's query parameters (paths.metric_params).

        `mode`: CURRENT (a snapshot now: no start or end), SUMMARY (one value set over the whole window)
        or SERIES (value sets across it). Without `start_epoch_millis` Baseten starts an hour before the
        end; without `end_epoch_millis` it ends now; without `metrics` it answers its default set
        (replicas, requests by status, response time). An answer in another mode, or whose values are
        not aligned to its descriptors, is BadResponse; a metric it leaves out is simply absent.
        Only a model's deployments have metrics: a chain's or a training job's is NotFound."""
        if kind_of(model_id) is not Kind.MODEL:
            raise NotFound("only a model's deployments have metrics")
        params = metric_params(
            mode=mode, start_epoch_millis=start_epoch_millis, end_epoch_millis=end_epoch_millis, metrics=metrics
        )
        path = (
            f"/v1/models/{segment(model_id, 'model id')}/deployments/{segment(deployment_id, 'deployment id')}/metrics"
        )
        answer = await self._get(path, DeploymentMetrics, params=params, interactive=interactive, judge=False)
        problem = unreadable(answer, mode)
        if problem is not None:
            log.info("Baseten's answer to %s is unusable: %s", path, problem)
            raise BadResponse(f"Baseten sent an answer this bot cannot read ({path})")
        return answer
