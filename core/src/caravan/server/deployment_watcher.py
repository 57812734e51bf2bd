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

A pass costs what changed, not what exists: while it runs, the watcher follows the store's
change feed and notes each job whose allocations, deployments, versions or registration
changed. A pass assesses the active deployments of those jobs, plus those whose progress
deadline has come due; every other deployment's last assessment still holds, because
:func:`~caravan.deploy.assess` depends on the time only through those deadlines. The first
pass after :meth:`~DeploymentWatcher.run` starts (and any :meth:`~DeploymentWatcher.step`
taken while it does not run) assesses every active deployment.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable
from typing import Any

from caravan.deploy import Assessment, assess
from caravan.server.evals import new_eval
from caravan.state import commands as c
from caravan.state.changes import Change
from caravan.state.tables import ALLOCS, DEPLOYMENTS, JOB_VERSIONS, JOBS
from caravan.structs import now_ns
from caravan.structs.consts import DEPLOYMENT_STATUS_FAILED, TRIGGER_DEPLOYMENT_WATCHER

log = logging.getLogger(__name__)

_TABLES = (DEPLOYMENTS, ALLOCS, JOBS)

JobKey = tuple[str, str]


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
        # Jobs to look at on the next pass; ``None`` means every active deployment.
        self._dirty: set[JobKey] | None = None
        # The deployments the watcher keeps state for, by job, and their progress deadlines
        # (a heap of ``(wake_at, deployment ID)``; entries no longer in ``_wake_at`` are stale).
        self._known: dict[JobKey, set[str]] = {}
        self._wake_at: dict[str, tuple[int, JobKey]] = {}
        self._deadlines: list[tuple[int, str]] = []
        #: Deployments assessed so far (for tests and benchmarks).
        self.assessments = 0

    # ------------------------------------------------------------------ the loop

    def kick(self) -> None:
        """Look at the deployments again now (after the test clock moved, for example)."""
        self._wake.set()

    async def run(self) -> None:
        """Watch until cancelled (the server starts it on gaining leadership and cancels it on
        losing it). A write that fails is logged; the next pass decides again."""
        # The first pass looks at everything; the subscription notes changes from then on.
        self._forget_all()
        self._dirty = None
        unsubscribe = self.server.state.changes.subscribe(self._changed)
        self.running = True
        try:
            await self._watch()
        finally:
            self.running = False
            unsubscribe()
            self._dirty = None

    def _changed(self, index: int, changes: list[Change]) -> None:
        # Called inside each commit: note the jobs concerned and nothing more.
        dirty = self._dirty
        if dirty is None:
            return
        for change in changes:
            if change.table in (ALLOCS, DEPLOYMENTS):
                obj = change.new if change.new is not None else change.old
                dirty.add((obj.namespace, obj.job_id))
            elif change.table in (JOBS, JOB_VERSIONS):
                dirty.add(change.key)

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
        """One pass: assess the active deployments of every job that changed since the last
        pass and those whose progress deadline came due, and apply what was decided.

        Returns the earliest progress deadline still ahead (Unix ns, 0 for none).
        """
        snap = self.server.state.snapshot()
        now = self.clock()
        if self._dirty is None or not self.running:
            self._forget_all()
            jobs = {(d.namespace, d.job_id) for d in snap.deployments() if d.active()}
        else:
            jobs = self._dirty
        if self.running:
            self._dirty = set()
        jobs |= self._due(now)
        deployments = []
        for key in jobs:
            active = [d for d in snap.deployments_by_job(*key) if d.active()]
            self._track(key, {d.id for d in active})
            deployments.extend(active)
        deployments.sort(key=lambda d: d.id)
        self.assessments += len(deployments)
        for deployment in deployments:
            key = (deployment.namespace, deployment.job_id)
            job = snap.job_by_id(*key)
            decision = assess(
                deployment,
                job,
                snap.allocs_by_job(*key),
                self.clock(),
                snap.job_versions(*key),
            )
            try:
                await self._apply(deployment, job, decision)
            except Exception:
                # Refused by the FSM (the deployment moved on meanwhile): the next pass, on
                # the newer state, decides again. Other deployments are not held up.
                log.exception("deployment %s: applying %s failed", deployment.id, decision)
                self._retry(key)
            self._set_deadline(deployment.id, key, decision.wake_at)
        return self._next_deadline()

    # ------------------------------------------------------------------ bookkeeping

    def _forget_all(self) -> None:
        self._seen_healthy.clear()
        self._known.clear()
        self._wake_at.clear()
        self._deadlines.clear()

    def _retry(self, key: JobKey) -> None:
        if self._dirty is not None:
            self._dirty.add(key)

    def _track(self, key: JobKey, active: set[str]) -> None:
        """Remember ``active`` as the job's active deployments; drop what is kept for the
        deployments of the job that ended or were removed."""
        for gone in self._known.get(key, set()) - active:
            self._seen_healthy.pop(gone, None)
            self._wake_at.pop(gone, None)
        if active:
            self._known[key] = active
        else:
            self._known.pop(key, None)

    def _set_deadline(self, deployment_id: str, key: JobKey, wake_at: int) -> None:
        if not wake_at:
            self._wake_at.pop(deployment_id, None)
            return
        if self._wake_at.get(deployment_id, (0, key))[0] != wake_at:
            heapq.heappush(self._deadlines, (wake_at, deployment_id))
        self._wake_at[deployment_id] = (wake_at, key)

    def _due(self, now: int) -> set[JobKey]:
        """The jobs of deployments whose progress deadline is at or before ``now``."""
        due = set()
        while self._deadlines and self._deadlines[0][0] <= now:
            wake_at, deployment_id = heapq.heappop(self._deadlines)
            current = self._wake_at.get(deployment_id)
            if current is not None and current[0] == wake_at:
                del self._wake_at[deployment_id]
                due.add(current[1])
        return due

    def _next_deadline(self) -> int:
        heap = self._deadlines
        while heap:
            wake_at, deployment_id = heap[0]
            current = self._wake_at.get(deployment_id)
            if current is not None and current[0] == wake_at:
                return wake_at
            heapq.heappop(heap)
        return 0

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
