"""The deployment watcher: the leader's loop that moves deployments along.

It blocks on the state store until deployments, allocations or jobs change (or a progress
deadline comes due), runs the pure :func:`caravan.deploy.assess` on every active deployment
and applies what it decides through Raft:

- a status change (success, failure, cancellation) with ``deployment_status_update``; a
  success marks the job version stable (the FSM does that), a failure with auto-revert
  registers the stable version again in the same command, with its evaluation;
- an auto-promotion with ``deployment_promotion``;
- an evaluation (``TriggeredBy = "deployment-watcher"``) whenever allocations of a deployment
  became healthy, so the scheduler places the next ``max_parallel`` batch.

Only the leader runs it. :meth:`DeploymentWatcher.run` is a leader loop like the plan
applier's (start it when leadership is gained, cancel it when lost); used as an async context
manager the watcher follows the server's leadership itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from caravan.deploy import Assessment, assess
from caravan.server.evals import new_eval
from caravan.state import commands as c
from caravan.structs import now_ns
from caravan.structs.consts import DEPLOYMENT_STATUS_FAILED, TRIGGER_DEPLOYMENT_WATCHER

log = logging.getLogger(__name__)

_TABLES = ("deployments", "allocs", "jobs")


class DeploymentWatcher:
    """Drives the active deployments of one server's state (leader only).

    :param server: the :class:`~caravan.server.Server` whose state it watches and through
        whose consensus group it writes.
    :param clock: the current time in Unix nanoseconds (tests move it by hand).
    :param poll: the longest wait between two passes, in seconds, when nothing changes.
    """

    def __init__(self, server: Any, clock: Callable[[], int] = now_ns, poll: float = 1.0) -> None:
        self.server = server
        self.clock = clock
        self.poll = poll
        self._seen_healthy: dict[str, frozenset[str]] = {}
        #: True while :meth:`run` runs: the server runs it while it leads.
        self.running = False
        self._wake = asyncio.Event()

    # ------------------------------------------------------------------ the loop

    def kick(self) -> None:
        """Look at the deployments again now (after the test clock moved, for example)."""
        self._wake.set()

    async def run(self) -> None:
        """Watch until cancelled (the server starts it on gaining leadership and cancels it on
        losing it). A write that fails is logged; the next pass decides again."""
        self._seen_healthy.clear()
        self.running = True
        try:
            await self._watch()
        finally:
            self.running = False

    async def _watch(self) -> None:
        state = self.server.state
        while True:
            index = state.snapshot().max_index(list(_TABLES))
            wake_at = await self.step()
            timeout = self.poll
            if wake_at:
                timeout = min(timeout, max((wake_at - self.clock()) / 1e9, 0.0))
            self._wake.clear()
            waiter = asyncio.ensure_future(state.wait_for(_TABLES, index, timeout))
            kicked = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiter, kicked}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
                kicked.cancel()

    async def step(self) -> int:
        """One pass over the active deployments; returns the earliest progress deadline still
        ahead (Unix ns, 0 for none)."""
        snap = self.server.state.snapshot()
        wake_at = 0
        active = [d for d in snap.deployments() if d.active()]
        for gone in set(self._seen_healthy) - {d.id for d in active}:
            del self._seen_healthy[gone]
        for deployment in active:
            job = snap.job_by_id(deployment.namespace, deployment.job_id)
            decision = assess(
                deployment,
                job,
                snap.allocs_by_job(deployment.namespace, deployment.job_id),
                self.clock(),
                snap.job_versions(deployment.namespace, deployment.job_id),
            )
            try:
                await self._apply(deployment, job, decision)
            except Exception:
                # Refused by the FSM (the deployment moved on meanwhile): the next pass, on
                # the newer state, decides again. Other deployments are not held up.
                log.exception("deployment %s: applying %s failed", deployment.id, decision)
            if decision.wake_at and (not wake_at or decision.wake_at < wake_at):
                wake_at = decision.wake_at
        return wake_at

    async def _apply(self, deployment: Any, job: Any | None, decision: Assessment) -> None:
        newly_healthy = decision.healthy - self._seen_healthy.get(deployment.id, frozenset())
        if decision.status is not None:
            evals = []
            # A failure needs the scheduler (to stop canaries, or to roll the reverted job
            # out); a success or a cancellation leaves it nothing to do.
            if decision.status == DEPLOYMENT_STATUS_FAILED and job is not None and not job.stop:
                target = decision.revert_job if decision.revert_job is not None else job
                evals = [new_eval(target, TRIGGER_DEPLOYMENT_WATCHER, deployment_id=deployment.id)]
            log.info("deployment %s: %s (%s)", deployment.id, decision.status, decision.description)
            command = c.deployment_status_update(
                deployment.id,
                decision.status,
                decision.description,
                job=decision.revert_job,
                evals=evals,
            )
            await self.server._apply_with_evals(command, evals)
            return
        if decision.promote and job is not None:
            ev = new_eval(job, TRIGGER_DEPLOYMENT_WATCHER, deployment_id=deployment.id)
            log.info("deployment %s: auto-promoting its canaries", deployment.id)
            await self.server._apply_with_evals(
                c.deployment_promotion(deployment.id, None, [ev]), [ev]
            )
            self._seen_healthy[deployment.id] = decision.healthy
            return
        if newly_healthy and job is not None:
            ev = new_eval(job, TRIGGER_DEPLOYMENT_WATCHER, deployment_id=deployment.id)
            await self.server.upsert_evals([ev])
        self._seen_healthy[deployment.id] = decision.healthy
