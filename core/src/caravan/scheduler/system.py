"""The system scheduler: one allocation of each group on every feasible node.

Each evaluation walks the ready nodes of the job's datacenters and pool. A feasible node
without a live allocation of a group gets one (nodes that join later, or become eligible
again, are picked up by the evaluation their registration triggers); a node whose allocation
runs an older job version gets it updated in place or replaced (at most ``max_parallel`` per
round when the group has an ``update`` stanza); allocations on nodes that went down are lost;
allocations on draining nodes, and on nodes that no longer satisfy the job, are stopped.
System allocations are never rescheduled elsewhere: each belongs to its node. Nodes that pass
every constraint but lack room are reported in ``FailedTGAllocs``; no blocked evaluation is
created, because the node's next update triggers a new evaluation anyway.
"""

from __future__ import annotations

import random
from typing import Any

from caravan.scheduler.base import EvalOutcome, SchedulerBase
from caravan.scheduler.build import AllocFactory
from caravan.scheduler.context import EvalContext
from caravan.scheduler.names import alloc_name
from caravan.scheduler.planner import Plan, Planner
from caravan.scheduler.reconcile_results import (
    ALLOC_LOST,
    ALLOC_NODE_TAINTED,
    ALLOC_NOT_NEEDED,
    ALLOC_UPDATING,
)
from caravan.scheduler.resources import client_terminal
from caravan.scheduler.stack import Stack
from caravan.scheduler.state import SchedulerState
from caravan.scheduler.updates import UpdateClassifier


class SystemScheduler(SchedulerBase):
    """Schedules ``system`` jobs."""

    creates_blocked_evals = False

    def _compute(
        self,
        evaluation: Any,
        state: SchedulerState,
        rng: random.Random,
        outcome: EvalOutcome,
        planner: Planner,
    ) -> Plan:
        job = state.job_by_id(evaluation.namespace, evaluation.job_id)
        stopped = job is None or bool(job.stop)
        plan = Plan(evaluation.id, evaluation.priority, job)
        ctx = EvalContext(state, plan, rng, None if stopped else job, self.usage_memo)
        live = [
            a
            for a in state.allocs_by_job(evaluation.namespace, evaluation.job_id)
            if a.desired_status == "run"
        ]
        if stopped:
            for alloc in live:
                if not client_terminal(alloc):
                    ctx.stop(alloc, ALLOC_NOT_NEEDED)
            return plan
        stack = Stack(ctx, job, batch=False, system=True)
        stack.set_nodes(state.nodes())
        eligible = {n.id: n for n in stack.nodes}
        now = self.clock()
        factory = AllocFactory(self.models, job, evaluation.id, now, rng)
        classifier = UpdateClassifier(job)
        by_node: dict[tuple[str, str], Any] = {}
        for alloc in live:
            by_node.setdefault((alloc.node_id, alloc.task_group), alloc)
        groups = {tg.name: tg for tg in job.task_groups or []}

        for alloc in live:
            if client_terminal(alloc):
                continue
            reason = self._leave_reason(state, alloc, groups, eligible)
            if reason is not None:
                ctx.stop(alloc, *reason)

        for tg in job.task_groups or []:
            budget = self._update_budget(tg)
            for node in stack.nodes:
                existing = by_node.get((node.id, tg.name))
                replacing = None
                if existing is not None:
                    if client_terminal(existing):
                        # Never rescheduled: a failed or finished system alloc stays put.
                        continue
                    if stack.infeasible_reason(tg, node) is not None:
                        ctx.stop(existing, ALLOC_NOT_NEEDED)
                        continue
                    if classifier.same_version(existing.job):
                        continue
                    if not classifier.destructive(existing.job, tg.name):
                        ctx.update_in_place(
                            existing.model_copy(update={"job": job, "modify_time": now})
                        )
                        continue
                    if budget == 0:
                        continue
                    budget -= 1
                    ctx.stop(existing, ALLOC_UPDATING)
                    replacing = existing
                selection = stack.select(tg, nodes=[node])
                if selection is None:
                    # A node filtered by a constraint is simply not a target; one that is
                    # feasible but full is a failed placement.
                    if ctx.metrics.nodes_exhausted:
                        outcome.failed_placement(tg.name, ctx.metrics)
                    continue
                outcome.placed(tg.name)
                alloc = factory.new(
                    group=tg.name,
                    name=alloc_name(job.id, tg.name, 0),
                    node=node,
                    ask=stack.ask_of(tg),
                    ports=selection.fit.ports,
                    metrics=selection.metrics,
                    previous=replacing,
                )
                ctx.place(alloc, node, selection.fit.usage)
        return plan

    @staticmethod
    def _update_budget(tg: Any) -> int:
        update = tg.update
        if update is None or not update.max_parallel:
            return -1
        return update.max_parallel

    @staticmethod
    def _leave_reason(
        state: SchedulerState,
        alloc: Any,
        groups: dict[str, Any],
        eligible: dict[str, Any],
    ) -> tuple[str, str | None] | None:
        """Why a live allocation must stop, as ``(description, client_status)``, or None."""
        if alloc.task_group not in groups:
            return ALLOC_NOT_NEEDED, None
        node = state.node_by_id(alloc.node_id)
        if node is None or node.status == "down":
            return ALLOC_LOST, "lost"
        if node.drain_strategy is not None:
            return ALLOC_NODE_TAINTED, None
        if node.id in eligible or node.scheduling_eligibility != "eligible":
            # An ineligible node keeps what it runs; it just receives nothing new.
            return None
        return ALLOC_NOT_NEEDED, None
