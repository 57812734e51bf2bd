"""Deployment endpoints: promote canaries, fail, pause/resume, and set allocation health.

Each writes the deployment change and a ``deployment-watcher`` evaluation in one command so
the scheduler acts on it (placing the rest after a promotion, rolling back after a failure).
The deployment state machine proper (progress deadlines, auto-promotion, auto-revert) belongs
to the deployment watcher, which calls the same state commands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from caravan.server.errors import NotFoundError, RequestError
from caravan.server.evals import new_eval
from caravan.state import commands as c
from caravan.structs.consts import (
    DEPLOYMENT_DESC_FAILED_BY_USER,
    DEPLOYMENT_DESC_PAUSED,
    DEPLOYMENT_DESC_RUNNING,
    DEPLOYMENT_STATUS_FAILED,
    DEPLOYMENT_STATUS_PAUSED,
    DEPLOYMENT_STATUS_RUNNING,
    TRIGGER_DEPLOYMENT_WATCHER,
)


class DeploymentEndpoints:
    """The deployment endpoints of :class:`~caravan.server.Server`."""

    def _active_deployment(self, deployment_id: str) -> tuple[Any, Any]:
        deployment = self.state.deployment_by_id(deployment_id)
        if deployment is None:
            raise NotFoundError(f"deployment {deployment_id!r} not found")
        if not deployment.active():
            raise RequestError(
                f"can't act on terminal deployment {deployment_id!r} ({deployment.status})"
            )
        job = self.state.job_by_id(deployment.namespace, deployment.job_id)
        if job is None:
            raise NotFoundError(
                f"job {deployment.job_id!r} of deployment {deployment_id!r} not found"
            )
        return deployment, job

    async def _deployment_write(
        self, command_for: Any, deployment_id: str, job: Any
    ) -> dict[str, Any]:
        ev = new_eval(job, TRIGGER_DEPLOYMENT_WATCHER, deployment_id=deployment_id)
        result = await self._apply_with_evals(command_for([ev]), [ev])
        return {
            "EvalID": ev.id,
            "EvalCreateIndex": result.get("EvalCreateIndex", 0),
            "DeploymentModifyIndex": result.get("DeploymentModifyIndex", result["Index"]),
            "Index": result["Index"],
        }

    async def deployment_promote(
        self, deployment_id: str, *, all: bool, groups: list[str]
    ) -> dict[str, Any]:
        """Promote the canaries of ``groups`` (or of every group with ``all``)."""
        if not all and not groups:
            raise RequestError("promotion needs either All or at least one group")
        _, job = self._active_deployment(deployment_id)
        chosen = None if all else groups
        return await self._deployment_write(
            lambda evals: c.deployment_promotion(deployment_id, chosen, evals), deployment_id, job
        )

    async def deployment_fail(self, deployment_id: str) -> dict[str, Any]:
        """Mark a deployment failed (``nomad deployment fail``)."""
        _, job = self._active_deployment(deployment_id)
        return await self._deployment_write(
            lambda evals: c.deployment_status_update(
                deployment_id, DEPLOYMENT_STATUS_FAILED, DEPLOYMENT_DESC_FAILED_BY_USER, evals=evals
            ),
            deployment_id,
            job,
        )

    async def deployment_pause(self, deployment_id: str, pause: bool) -> dict[str, Any]:
        """Pause (``pause=True``) or resume a deployment."""
        _, job = self._active_deployment(deployment_id)
        status, description = (
            (DEPLOYMENT_STATUS_PAUSED, DEPLOYMENT_DESC_PAUSED)
            if pause
            else (DEPLOYMENT_STATUS_RUNNING, DEPLOYMENT_DESC_RUNNING)
        )
        return await self._deployment_write(
            lambda evals: c.deployment_status_update(
                deployment_id, status, description, evals=evals
            ),
            deployment_id,
            job,
        )

    async def deployment_alloc_health(
        self, deployment_id: str, healthy: list[str], unhealthy: list[str]
    ) -> dict[str, Any]:
        """Record health verdicts on a deployment's allocations."""
        if not healthy and not unhealthy:
            raise RequestError("must set at least one healthy or unhealthy allocation")
        _, job = self._active_deployment(deployment_id)
        for alloc_id in [*healthy, *unhealthy]:
            alloc = self.state.alloc_by_id(alloc_id)
            if alloc is None or alloc.deployment_id != deployment_id:
                raise NotFoundError(
                    f"allocation {alloc_id!r} is not part of deployment {deployment_id!r}"
                )
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return await self._deployment_write(
            lambda evals: c.deployment_alloc_health(
                deployment_id, healthy, unhealthy, stamp, evals=evals
            ),
            deployment_id,
            job,
        )
