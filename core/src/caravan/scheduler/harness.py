"""An in-memory cluster that is both the scheduler's state and its planner, for tests.

:class:`Harness` keeps jobs, nodes, allocations, deployments and evaluations in dicts, answers
the :class:`~caravan.scheduler.state.SchedulerState` reads, and applies submitted plans the way
the plan applier would (every node accepted unless ``reject_nodes`` says otherwise, which
simulates a partial commit). It records every plan, created evaluation and evaluation update,
so a test can drive a scheduler and look at what happened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from caravan.scheduler.planner import Plan, PlanResult


class Harness:
    """A mutable, in-memory :class:`SchedulerState` and :class:`Planner`."""

    def __init__(self) -> None:
        self.index = 1
        self.jobs: dict[tuple[str, str], Any] = {}
        self.node_table: dict[str, Any] = {}
        self.alloc_table: dict[str, Any] = {}
        self._by_job: dict[tuple[str, str], dict[str, Any]] = {}
        self._by_node: dict[str, dict[str, Any]] = {}
        self.deployments: dict[str, Any] = {}
        self.evals: dict[str, Any] = {}
        self.plans: list[Plan] = []
        self.results: list[PlanResult] = []
        self.created_evals: list[Any] = []
        self.updated_evals: list[Any] = []
        #: Called with each submitted plan; the node IDs it returns are refused (a partial
        #: commit, as when another scheduler used those nodes first).
        self.reject_nodes: Callable[[Plan], set[str]] | None = None

    # ------------------------------------------------------------------ writes (for tests)

    def _bump(self) -> int:
        self.index += 1
        return self.index

    def upsert_job(self, job: Any) -> None:
        self.jobs[(job.namespace, job.id)] = job
        self._bump()

    def delete_job(self, namespace: str, job_id: str) -> None:
        self.jobs.pop((namespace, job_id), None)
        self._bump()

    def upsert_node(self, node: Any) -> None:
        self.node_table[node.id] = node
        self._bump()

    def upsert_alloc(self, alloc: Any) -> None:
        old = self.alloc_table.get(alloc.id)
        if old is not None and old.node_id != alloc.node_id:
            self._by_node.get(old.node_id, {}).pop(alloc.id, None)
        self.alloc_table[alloc.id] = alloc
        self._by_job.setdefault((alloc.namespace, alloc.job_id), {})[alloc.id] = alloc
        self._by_node.setdefault(alloc.node_id, {})[alloc.id] = alloc
        self._bump()

    def upsert_deployment(self, deployment: Any) -> None:
        self.deployments[deployment.id] = deployment
        self._bump()

    # ------------------------------------------------------------------ SchedulerState

    def job_by_id(self, namespace: str, job_id: str) -> Any | None:
        return self.jobs.get((namespace, job_id))

    def nodes(self) -> list[Any]:
        return [self.node_table[k] for k in sorted(self.node_table)]

    def node_by_id(self, node_id: str) -> Any | None:
        return self.node_table.get(node_id)

    def allocs_by_job(
        self, namespace: str, job_id: str, any_create_index: bool = True
    ) -> list[Any]:
        allocs = self._by_job.get((namespace, job_id), {})
        return [allocs[k] for k in sorted(allocs)]

    def allocs_by_node(self, node_id: str) -> list[Any]:
        allocs = self._by_node.get(node_id, {})
        return [allocs[k] for k in sorted(allocs)]

    def latest_deployment_by_job(self, namespace: str, job_id: str) -> Any | None:
        deps = [
            d for d in self.deployments.values() if d.namespace == namespace and d.job_id == job_id
        ]
        return max(deps, key=lambda d: d.create_index, default=None)

    # ------------------------------------------------------------------ Planner

    def submit_plan(self, plan: Plan) -> PlanResult:
        """Apply ``plan``; nodes named by ``reject_nodes`` are refused (a partial commit)."""
        self.plans.append(plan)
        refused = self.reject_nodes(plan) if self.reject_nodes is not None else set()
        result = PlanResult()
        index = self._bump()
        for node_id, allocs in plan.node_update.items():
            if node_id in refused:
                continue
            for alloc in allocs:
                self.upsert_alloc(alloc)
            result.node_update[node_id] = allocs
        for node_id, allocs in plan.node_allocation.items():
            if node_id in refused:
                continue
            for alloc in allocs:
                self.upsert_alloc(alloc)
            result.node_allocation[node_id] = allocs
        if plan.deployment is not None:
            self.upsert_deployment(plan.deployment.model_copy(update={"create_index": index}))
            result.deployment = plan.deployment
        for update in plan.deployment_updates:
            dep = self.deployments.get(update.deployment_id)
            if dep is not None:
                self.upsert_deployment(
                    dep.model_copy(
                        update={
                            "status": update.status,
                            "status_description": update.status_description,
                        }
                    )
                )
        result.deployment_updates = list(plan.deployment_updates)
        result.alloc_index = index
        if refused:
            result.refresh_index = self.index
        self.results.append(result)
        return result

    def refresh_state(self, index: int) -> Harness:
        return self

    def update_eval(self, evaluation: Any) -> None:
        self.evals[evaluation.id] = evaluation
        self.updated_evals.append(evaluation)

    def create_eval(self, evaluation: Any) -> None:
        self.evals[evaluation.id] = evaluation
        self.created_evals.append(evaluation)

    # ------------------------------------------------------------------ helpers

    def live_allocs(self, namespace: str, job_id: str) -> list[Any]:
        """The job's allocations that are neither desired-stopped nor finished on the client."""
        return [
            a
            for a in self.allocs_by_job(namespace, job_id)
            if a.desired_status == "run" and a.client_status not in ("complete", "failed", "lost")
        ]
