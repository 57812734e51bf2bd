"""``job_plan``: run the scheduler on a job without committing anything (``nomad job plan``).

The candidate job is laid over a snapshot as if it had been registered (next version, new
``JobModifyIndex`` when its spec changed); the scheduler runs against that view with a
:class:`RecordingPlanner`, which accepts every plan in full and keeps it instead of committing.
The response is Nomad's ``JobPlanResponse``: per-group desired updates, the groups that could
not be placed, the diff against the current version, and the ``JobModifyIndex`` a following
``job run -check-index`` should send.
"""

from __future__ import annotations

import asyncio
from typing import Any

from caravan.scheduler.base import tainted_nodes
from caravan.scheduler.planner import Plan, PlanResult
from caravan.scheduler.reconcile import reconcile
from caravan.scheduler.reconcile_results import DesiredUpdates
from caravan.server.evals import new_eval
from caravan.server.worker import new_scheduler
from caravan.state import StateSnapshot
from caravan.state.jobs import spec_changed
from caravan.structs import Job, diff_jobs, now_ns
from caravan.structs.consts import TRIGGER_JOB_REGISTER

#: Go's zero time, which Nomad sends as ``NextPeriodicLaunch`` for non-periodic jobs.
ZERO_TIME = "0001-01-01T00:00:00Z"

#: ``DesiredUpdates`` field -> the key Nomad uses in a task group diff's ``Updates``.
_DIFF_UPDATE_KEYS = {
    "ignore": "ignore",
    "place": "create",
    "stop": "destroy",
    "migrate": "migrate",
    "canary": "canary",
    "in_place_update": "in-place update",
    "destructive_update": "create/destroy update",
}


class PlanView:
    """A snapshot in which ``job`` is the registered version of its ID."""

    def __init__(self, snapshot: StateSnapshot, job: Any) -> None:
        self._snap = snapshot
        self._job = job
        self.index = snapshot.index

    def job_by_id(self, namespace: str, job_id: str) -> Any | None:
        if (namespace, job_id) == (self._job.namespace, self._job.id):
            return self._job
        return self._snap.job_by_id(namespace, job_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._snap, name)


class RecordingPlanner:
    """A planner that commits nothing: every plan is accepted in full and recorded."""

    def __init__(self, view: PlanView) -> None:
        self.view = view
        self.plans: list[Plan] = []
        self.created: list[Any] = []
        self.updated: list[Any] = []

    def submit_plan(self, plan: Plan) -> PlanResult:
        self.plans.append(plan)
        return PlanResult(
            node_update=dict(plan.node_update),
            node_allocation=dict(plan.node_allocation),
            deployment=plan.deployment,
            deployment_updates=list(plan.deployment_updates),
            alloc_index=self.view.index,
        )

    def refresh_state(self, index: int) -> PlanView:
        return self.view

    def update_eval(self, evaluation: Any) -> None:
        self.updated.append(evaluation)

    def create_eval(self, evaluation: Any) -> None:
        self.created.append(evaluation)


def candidate(existing: Any | None, job: Job, index: int) -> Job:
    """``job`` stamped as the state would stamp it if it were registered at ``index``."""
    if existing is None:
        return job.model_copy(
            update={"version": 0, "create_index": index, "job_modify_index": index}
        )
    if not spec_changed(existing, job):
        return job.model_copy(
            update={
                "version": existing.version,
                "create_index": existing.create_index,
                "job_modify_index": existing.job_modify_index,
            }
        )
    return job.model_copy(
        update={
            "version": existing.version + 1,
            "create_index": existing.create_index,
            "job_modify_index": index,
        }
    )


def desired_updates(view: PlanView, job: Any, planner: RecordingPlanner) -> dict[str, Any]:
    """Per-group ``DesiredUpdates``: the reconciler's decision for service and batch jobs;
    counted from the recorded plan for system jobs (which have no reconciler)."""
    allocs = view.allocs_by_job(job.namespace, job.id)
    if job.type in ("service", "batch"):
        result = reconcile(
            job.id,
            job,
            allocs,
            tainted_nodes(view, allocs),
            view.latest_deployment_by_job(job.namespace, job.id),
            now_ns(),
            job.type == "batch",
        )
        return result.desired_updates
    counts = {tg.name: DesiredUpdates() for tg in job.task_groups or []}
    for plan in planner.plans:
        for placed in plan.node_allocation.values():
            for alloc in placed:
                counts.setdefault(alloc.task_group, DesiredUpdates()).place += 1
        for stopped in plan.node_update.values():
            for alloc in stopped:
                counts.setdefault(alloc.task_group, DesiredUpdates()).stop += 1
    return counts


class JobPlanEndpoint:
    """``job_plan`` of :class:`~caravan.server.Server`."""

    async def job_plan(self, job: Job, *, diff: bool) -> dict[str, Any]:
        """Dry-run ``job`` as registering it would: through the hook plugins' admission
        (mutated as they mutate it, refused as they refuse it), then the scheduler; nothing
        is written. Raises for an invalid job."""
        job, warnings = await self._admit(job)
        snapshot = self.state.snapshot()
        existing = snapshot.job_by_id(job.namespace, job.id)
        planned = candidate(existing, job, snapshot.index + 1)
        view = PlanView(snapshot, planned)
        planner = RecordingPlanner(view)
        ev = new_eval(planned, TRIGGER_JOB_REGISTER)
        scheduler = new_scheduler(planned.type, {})
        await asyncio.to_thread(scheduler.process, ev, view, planner)
        updates = desired_updates(view, planned, planner)
        failed = planner.updated[-1].failed_tg_allocs if planner.updated else None
        job_diff = None
        if diff:
            job_diff = diff_jobs(existing, planned)
            for group in job_diff["TaskGroups"]:
                counts = updates.get(group["Name"])
                if counts is not None:
                    group["Updates"] = {
                        key: getattr(counts, attr)
                        for attr, key in _DIFF_UPDATE_KEYS.items()
                        if getattr(counts, attr)
                    } or None
        return {
            "Index": snapshot.index,
            "JobModifyIndex": existing.job_modify_index if existing is not None else 0,
            "CreatedEvals": [e.to_api() for e in planner.created] or None,
            "Diff": job_diff,
            "Annotations": {
                "DesiredTGUpdates": {name: u.to_api() for name, u in updates.items()},
                "PreemptedAllocs": None,
            },
            "FailedTGAllocs": (
                {group: metric.to_api() for group, metric in failed.items()} if failed else None
            ),
            "NextPeriodicLaunch": ZERO_TIME,
            "Warnings": "\n".join(warnings),
        }
