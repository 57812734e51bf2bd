"""The generic scheduler: service and batch jobs.

Each evaluation reconciles the job's allocations (:mod:`caravan.scheduler.reconcile`), stops
what has to stop, updates in place what can be, creates the deployment a changed job needs,
schedules follow-up evaluations for failed allocations whose reschedule is due later, and
places everything else through the :class:`~caravan.scheduler.stack.Stack`. Groups that could
not be fully placed get a blocked evaluation (see :mod:`caravan.scheduler.base`).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from caravan.scheduler.base import EvalOutcome, SchedulerBase, tainted_nodes
from caravan.scheduler.build import AllocFactory, new_uuid
from caravan.scheduler.context import EvalContext
from caravan.scheduler.planner import Plan, Planner
from caravan.scheduler.reconcile import reconcile
from caravan.scheduler.reconcile_results import DeploymentGroup, PlaceRequest, ReconcileResult
from caravan.scheduler.reschedule import kept_events
from caravan.scheduler.stack import Stack
from caravan.scheduler.state import SchedulerState

#: Delayed reschedules due within this window share one follow-up evaluation.
FOLLOWUP_BATCH_NS = 5_000_000_000


class GenericScheduler(SchedulerBase):
    """Schedules service jobs (``batch=False``) and batch jobs (``batch=True``)."""

    def __init__(self, *, batch: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch = batch
        # Nomad retries a partly committed batch plan fewer times than a service plan.
        self.max_attempts = 2 if batch else 5

    # ------------------------------------------------------------------ planning

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
        plan = Plan(
            eval_id=evaluation.id,
            priority=evaluation.priority,
            job=job,
            all_at_once=bool(job.all_at_once) if job is not None else False,
        )
        ctx = EvalContext(state, plan, rng, None if stopped else job, self.usage_memo)
        if not stopped:
            outcome.queued = {tg.name: 0 for tg in job.task_groups or []}
        allocs = state.allocs_by_job(evaluation.namespace, evaluation.job_id)
        now = self.clock()
        result = reconcile(
            evaluation.job_id,
            job,
            allocs,
            tainted_nodes(state, allocs),
            state.latest_deployment_by_job(evaluation.namespace, evaluation.job_id),
            now,
            self.batch,
        )
        for stop in result.stop:
            ctx.stop(stop.alloc, stop.description, stop.client_status)
        plan.deployment_updates.extend(result.deployment_updates)
        if stopped:
            return plan
        deployment_id = result.deployment_id
        if result.new_deployment:
            plan.deployment = self._new_deployment(job, evaluation, result.new_deployment, rng)
            deployment_id = plan.deployment.id
        for alloc in result.inplace:
            changes: dict[str, Any] = {"job": job, "modify_time": now}
            status = alloc.deployment_status
            if alloc.deployment_id != (deployment_id or ""):
                # As in Nomad, an allocation updated in place joins the new deployment and its
                # client reports its health afresh, so the deployment's counters include it.
                changes["deployment_id"] = deployment_id or ""
                changes["deployment_status"] = None
            elif status is not None and status.canary:
                # Carried over to a new version, a canary is an ordinary allocation.
                changes["deployment_status"] = status.model_copy(update={"canary": False})
            ctx.update_in_place(alloc.model_copy(update=changes))
        self._delayed(evaluation, job, result, ctx, planner, rng)
        self._place(ctx, job, evaluation, result, deployment_id, now, outcome)
        return plan

    def _place(
        self,
        ctx: EvalContext,
        job: Any,
        evaluation: Any,
        result: ReconcileResult,
        deployment_id: str | None,
        now: int,
        outcome: EvalOutcome,
    ) -> None:
        requests: list[PlaceRequest] = [
            PlaceRequest(d.name, d.group, d.alloc, stop_previous=True) for d in result.destructive
        ]
        requests.extend(result.place)
        if not requests:
            return
        stack = Stack(ctx, job, batch=self.batch)
        stack.set_nodes(ctx.state.nodes())
        factory = AllocFactory(self.models, job, evaluation.id, now, ctx.rng)
        groups = {tg.name: tg for tg in job.task_groups or []}
        for req in requests:
            tg = groups[req.group]
            selection = None
            if req.group not in outcome.failed:
                # Once a group did not fit, nothing has been freed since: don't search again.
                selection = stack.select(tg, req.penalty_nodes)
            if selection is None:
                outcome.failed_placement(req.group, ctx.metrics)
                if req.stop_previous and req.previous_alloc is not None:
                    ctx.unstop(req.previous_alloc)
                continue
            outcome.placed(req.group)
            tracker = None
            if req.reschedule and req.previous_alloc is not None:
                tracker = self._tracker(tg, req, now)
            alloc = factory.new(
                group=req.group,
                name=req.name,
                node=selection.node,
                ask=stack.ask_of(tg),
                ports=selection.fit.ports,
                metrics=selection.metrics,
                previous=req.previous_alloc,
                deployment_id=deployment_id,
                canary=req.canary,
                reschedule_tracker=tracker,
            )
            ctx.place(alloc, selection.node, selection.fit.usage)
        outcome.record_classes(*stack.class_eligibility())

    @staticmethod
    def _tracker(tg: Any, req: PlaceRequest, now: int) -> dict[str, Any]:
        prev = req.previous_alloc
        events = [
            {
                "RescheduleTime": e.reschedule_time,
                "PrevAllocID": e.prev_alloc_id,
                "PrevNodeID": e.prev_node_id,
                "Delay": e.delay,
            }
            for e in kept_events(tg.reschedule_policy, prev, now)
        ]
        events.append(
            {
                "RescheduleTime": now,
                "PrevAllocID": prev.id,
                "PrevNodeID": prev.node_id,
                "Delay": req.reschedule_delay,
            }
        )
        return {"Events": events}

    def _delayed(
        self,
        evaluation: Any,
        job: Any,
        result: ReconcileResult,
        ctx: EvalContext,
        planner: Planner,
        rng: random.Random,
    ) -> None:
        pending = sorted(
            (d for d in result.delayed if not getattr(d.alloc, "followup_eval_id", "")),
            key=lambda d: d.at,
        )
        batch_start = -1
        eval_id = ""
        for delayed in pending:
            if batch_start < 0 or delayed.at > batch_start + FOLLOWUP_BATCH_NS:
                batch_start = delayed.at
                eval_id = new_uuid(rng)
                planner.create_eval(
                    self._follow_up(evaluation, job, eval_id, delayed.at, "failed-follow-up")
                )
            ctx.update_in_place(delayed.alloc.model_copy(update={"followup_eval_id": eval_id}))

    # ------------------------------------------------------------------ objects

    def _follow_up(
        self, evaluation: Any, job: Any, eval_id: str, wait_until: int, trigger: str
    ) -> Any:
        cls = self.models.evaluation
        data = {
            "ID": eval_id,
            "Namespace": job.namespace,
            "Priority": evaluation.priority,
            "Type": job.type,
            "TriggeredBy": trigger,
            "JobID": job.id,
            "Status": "pending",
            "PreviousEval": evaluation.id,
            "WaitUntil": datetime.fromtimestamp(wait_until / 1e9, UTC),
        }
        return cls.model_validate(data)

    def _new_deployment(
        self,
        job: Any,
        evaluation: Any,
        groups: dict[str, DeploymentGroup],
        rng: random.Random,
    ) -> Any:
        cls = self.models.deployment
        canaries = any(g.desired_canaries for g in groups.values())
        manual = any(g.desired_canaries and not g.auto_promote for g in groups.values())
        if manual:
            description = "Deployment is running but requires manual promotion"
        elif canaries:
            description = "Deployment is running pending automatic promotion"
        else:
            description = "Deployment is running"
        data = {
            "ID": new_uuid(rng),
            "Namespace": job.namespace,
            "JobID": job.id,
            "JobVersion": job.version,
            "JobModifyIndex": job.job_modify_index,
            "JobCreateIndex": job.create_index,
            "Status": "running",
            "StatusDescription": description,
            "EvalPriority": evaluation.priority,
            "TaskGroups": {
                name: {
                    "AutoRevert": g.auto_revert,
                    "AutoPromote": g.auto_promote,
                    "ProgressDeadline": g.progress_deadline,
                    "Promoted": False,
                    "DesiredCanaries": g.desired_canaries,
                    "DesiredTotal": g.desired_total,
                }
                for name, g in groups.items()
            },
        }
        return cls.model_validate(data)
