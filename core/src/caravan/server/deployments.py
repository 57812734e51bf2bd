"""Deployment endpoints: promote canaries, fail, pause/resume, and set allocation health.

Each validates with Nomad's error texts, then writes the deployment change and a
``deployment-watcher`` evaluation in one command so the scheduler acts on it (placing the
rest after a promotion, rolling back after a failure). The automatic transitions (progress
deadlines, auto-promotion, auto-revert, success) belong to the
:class:`~caravan.server.deployment_watcher.DeploymentWatcher`, which uses the same commands.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from caravan.deploy import rollback, running_description
from caravan.rpc.forwarding import leader_endpoint
from caravan.server.errors import NotFoundError, RequestError
from caravan.server.evals import new_eval
from caravan.state import commands as c
from caravan.structs.consts import (
    DEPLOYMENT_DESC_FAILED_BY_USER,
    DEPLOYMENT_DESC_PAUSED,
    DEPLOYMENT_STATUS_FAILED,
    DEPLOYMENT_STATUS_PAUSED,
    DEPLOYMENT_STATUS_RUNNING,
    TRIGGER_DEPLOYMENT_WATCHER,
)


class DeploymentEndpoints:
    """The deployment endpoints of :class:`~caravan.server.Server`."""

    def _active_deployment(self, deployment_id: str, verb: str) -> tuple[Any, Any]:
        """The deployment and its job; ``verb`` names the action in Nomad's refusal
        ("can't <verb> terminal deployment")."""
        if not deployment_id:
            raise RequestError("missing deployment ID")
        deployment = self.state.deployment_by_id(deployment_id)
        if deployment is None:
            raise NotFoundError("deployment not found")
        if not deployment.active():
            raise RequestError(f"can't {verb} terminal deployment")
        job = self.state.job_by_id(deployment.namespace, deployment.job_id)
        if job is None:
            raise NotFoundError(
                f"job {deployment.job_id!r} of deployment {deployment_id!r} not found"
            )
        return deployment, job

    async def _deployment_write(
        self, command_for: Any, deployment_id: str, job: Any, revert: Any | None = None
    ) -> dict[str, Any]:
        ev = new_eval(
            revert if revert is not None else job,
            TRIGGER_DEPLOYMENT_WATCHER,
            deployment_id=deployment_id,
        )
        result = await self._apply_with_evals(command_for([ev]), [ev])
        reply = {
            "EvalID": ev.id,
            "EvalCreateIndex": result.get("EvalCreateIndex", 0),
            "DeploymentModifyIndex": result.get("DeploymentModifyIndex", result["Index"]),
            "Index": result["Index"],
        }
        if revert is not None:
            reply["RevertedJobVersion"] = revert.version
        return reply

    @leader_endpoint
    async def deployment_promote(
        self, deployment_id: str, *, all: bool, groups: list[str]
    ) -> dict[str, Any]:
        """Promote the canaries of ``groups`` (or of every group with ``all``).

        Refused, as Nomad does, when a canary of a promoted group is not healthy yet
        ("Canary allocation ... is not healthy") or there is no canary to promote.
        """
        deployment, job = self._active_deployment(deployment_id, "promote")
        states = deployment.task_groups or {}
        for name in groups:
            if name not in states:
                raise RequestError(f"deployment has no task group {name!r}")
        chosen = set(states) if all else set(groups)
        problems, have = [], False
        canaries = {i for n in chosen for i in states[n].placed_canaries or ()}
        for alloc in self.state.allocs_by_deployment(deployment_id):
            if alloc.id not in canaries:
                continue
            status = alloc.deployment_status
            if status is None or status.healthy is not True:
                problems.append(
                    f"Canary allocation {alloc.id!r} for group {alloc.task_group!r} is not healthy"
                )
                continue
            have = True
        if problems:
            raise RequestError("; ".join(problems))
        if not have:
            raise RequestError("no canaries to promote")
        picked = None if all else groups
        return await self._deployment_write(
            lambda evals: c.deployment_promotion(deployment_id, picked, evals), deployment_id, job
        )

    @leader_endpoint
    async def deployment_fail(self, deployment_id: str) -> dict[str, Any]:
        """Mark a deployment failed (``nomad deployment fail``); a group with auto_revert
        rolls the job back to its latest stable version, as an automatic failure does."""
        deployment, job = self._active_deployment(deployment_id, "fail")
        description, revert = DEPLOYMENT_DESC_FAILED_BY_USER, None
        if any(s.auto_revert for s in (deployment.task_groups or {}).values()):
            versions = self.state.job_versions(job.namespace, job.id)
            description, revert = rollback(description, job, versions)
        return await self._deployment_write(
            lambda evals: c.deployment_status_update(
                deployment_id, DEPLOYMENT_STATUS_FAILED, description, job=revert, evals=evals
            ),
            deployment_id,
            job,
            revert,
        )

    @leader_endpoint
    async def deployment_pause(self, deployment_id: str, pause: bool) -> dict[str, Any]:
        """Pause (``pause=True``) or resume a deployment."""
        deployment, job = self._active_deployment(deployment_id, "pause" if pause else "resume")
        if pause:
            status, description = DEPLOYMENT_STATUS_PAUSED, DEPLOYMENT_DESC_PAUSED
        else:
            status, description = DEPLOYMENT_STATUS_RUNNING, running_description(deployment)
        return await self._deployment_write(
            lambda evals: c.deployment_status_update(
                deployment_id, status, description, evals=evals
            ),
            deployment_id,
            job,
        )

    @leader_endpoint
    async def deployment_alloc_health(
        self, deployment_id: str, healthy: list[str], unhealthy: list[str]
    ) -> dict[str, Any]:
        """Record health verdicts on a deployment's allocations (``health_check = "manual"``,
        or an operator overriding the checks)."""
        if not healthy and not unhealthy:
            raise RequestError("must specify at least one healthy/unhealthy allocation ID")
        _, job = self._active_deployment(deployment_id, "set health of allocations for a")
        for alloc_id in [*healthy, *unhealthy]:
            alloc = self.state.alloc_by_id(alloc_id)
            if alloc is None:
                raise NotFoundError(f"unknown alloc {alloc_id!r}")
            if alloc.deployment_id != deployment_id:
                raise RequestError(
                    f"alloc {alloc_id!r} is not part of deployment {deployment_id!r}"
                )
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return await self._deployment_write(
            lambda evals: c.deployment_alloc_health(
                deployment_id, healthy, unhealthy, stamp, evals=evals
            ),
            deployment_id,
            job,
        )
