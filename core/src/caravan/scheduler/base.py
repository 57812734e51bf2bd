"""What every scheduler shares: the plan/submit/retry loop and the evaluation's outcome.

A scheduler's ``_compute`` builds one plan from one snapshot. :meth:`SchedulerBase.process`
submits it; when the plan applier commits only part of it (another scheduler used the same
nodes first) the plan is rebuilt against the fresher snapshot the planner hands back, up to
``max_attempts`` times. The evaluation is then updated with its outcome: groups that could not
be placed (``FailedTGAllocs``), how many allocations are still queued per group
(``QueuedAllocations``), and the blocked evaluation created to retry them.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from caravan.scheduler.build import SchedulerModels, field_value, new_uuid
from caravan.scheduler.metrics import PlacementMetrics
from caravan.scheduler.planner import Plan, Planner
from caravan.scheduler.resources import Usage
from caravan.scheduler.state import SchedulerState


def tainted_nodes(state: SchedulerState, allocs: list[Any]) -> dict[str, Any | None]:
    """The nodes (by ID) under ``allocs`` that allocations must leave: down, draining or gone."""
    out: dict[str, Any | None] = {}
    seen: set[str] = set()
    for alloc in allocs:
        node_id = alloc.node_id
        if node_id in seen or not node_id:
            continue
        seen.add(node_id)
        node = state.node_by_id(node_id)
        if node is None or node.status == "down" or node.drain_strategy is not None:
            out[node_id] = node
    return out


class EvalOutcome:
    """What planning one evaluation produced, for the evaluation update."""

    def __init__(self) -> None:
        self.failed: dict[str, PlacementMetrics] = {}
        self.queued: dict[str, int] = {}
        self.class_eligibility: dict[str, bool] = {}
        self.escaped_computed_class = False

    def record_classes(self, eligibility: dict[str, bool], escaped: bool) -> None:
        """Keep which computed classes could run the job (see ``Stack.class_eligibility``)."""
        self.class_eligibility = eligibility
        self.escaped_computed_class = escaped

    def placed(self, group: str) -> None:
        """Note a successful placement of ``group`` (so it shows in ``QueuedAllocations``)."""
        self.queued.setdefault(group, 0)

    def failed_placement(self, group: str, metrics: PlacementMetrics) -> None:
        """Note a placement of ``group`` that found no node; later ones are coalesced."""
        known = self.failed.get(group)
        if known is None:
            self.failed[group] = metrics
        else:
            known.coalesced_failures += 1
        self.queued[group] = self.queued.get(group, 0) + 1


class SchedulerBase(ABC):
    """The shared evaluation loop. ``clock`` returns Unix nanoseconds; the random generator
    is seeded from ``seed``, the evaluation ID and the snapshot index, so the same inputs always
    give the same plan; ``models`` are the classes new objects are built from."""

    #: Whether unplaced allocations get a blocked evaluation (system jobs wait for node events).
    creates_blocked_evals = True
    max_attempts = 5

    def __init__(
        self,
        *,
        clock: Callable[[], int],
        seed: int | None = None,
        models: SchedulerModels | None = None,
        usage_memo: dict[str, Usage] | None = None,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.models = models or SchedulerModels.default()
        self.usage_memo = usage_memo if usage_memo is not None else {}

    @abstractmethod
    def _compute(
        self,
        evaluation: Any,
        state: SchedulerState,
        rng: random.Random,
        outcome: EvalOutcome,
        planner: Planner,
    ) -> Plan:
        """Build the plan for ``evaluation`` from ``state``, noting failures in ``outcome``."""

    def process(self, evaluation: Any, state: SchedulerState, planner: Planner) -> None:
        """Process ``evaluation`` against ``state``, submitting plans through ``planner``.

        Always ends with ``planner.update_eval``: status ``complete`` (``blocked`` for a
        blocked evaluation that still cannot place everything), or ``failed`` when no plan
        could be committed within the attempt limit.
        """
        # Seeded by the evaluation and the snapshot's index: a redelivered evaluation sees a
        # newer index, so it never regenerates the IDs of allocations it already created.
        rng = random.Random(f"{self.seed}:{evaluation.id}:{state.index}")
        outcome = EvalOutcome()
        for _ in range(self.max_attempts):
            outcome = EvalOutcome()
            plan = self._compute(evaluation, state, rng, outcome, planner)
            if plan.is_noop():
                break
            result = planner.submit_plan(plan)
            full, _, _ = result.is_full_commit(plan)
            if full or not result.refresh_index:
                break
            state = planner.refresh_state(result.refresh_index)
        else:
            reason = f"maximum attempts reached ({self.max_attempts})"
            self._finish(evaluation, planner, outcome, "failed", reason)
            return
        self._finish(evaluation, planner, outcome, "complete", "")

    def _blocked(self, evaluation: Any, outcome: EvalOutcome) -> Any:
        data = {
            "ID": new_uuid(random.Random(f"blocked:{evaluation.id}")),
            "Namespace": evaluation.namespace,
            "Priority": evaluation.priority,
            "Type": evaluation.type,
            "TriggeredBy": "queued-allocs",
            "JobID": evaluation.job_id,
            "Status": "blocked",
            "PreviousEval": evaluation.id,
            "StatusDescription": "created to place remaining allocations",
            # Which node classes could take the job once they have room: the blocked
            # evaluation is released when capacity changes on one of them.
            "ClassEligibility": outcome.class_eligibility or None,
            "EscapedComputedClass": outcome.escaped_computed_class,
        }
        return self.models.evaluation.model_validate(data)

    def _finish(
        self,
        evaluation: Any,
        planner: Planner,
        outcome: EvalOutcome,
        status: str,
        description: str,
    ) -> None:
        failed = None
        if outcome.failed:
            failed = field_value(
                type(evaluation),
                "failed_tg_allocs",
                {group: m.to_api() for group, m in outcome.failed.items()},
            )
        blocked_id = ""
        if failed and self.creates_blocked_evals and evaluation.status != "blocked":
            blocked = self._blocked(evaluation, outcome)
            planner.create_eval(blocked)
            blocked_id = blocked.id
        if failed and evaluation.status == "blocked" and status == "complete":
            # A blocked evaluation that still cannot place everything stays blocked.
            status = "blocked"
        planner.update_eval(
            evaluation.model_copy(
                update={
                    "status": status,
                    "status_description": description,
                    "failed_tg_allocs": failed,
                    "queued_allocations": dict(outcome.queued),
                    "blocked_eval": blocked_id or evaluation.blocked_eval,
                }
            )
        )
