"""What a scheduler hands back: a :class:`Plan`, and the :class:`Planner` it submits it through.

A plan is the whole outcome of one evaluation: allocations to stop (``node_update``), to place
or update in place (``node_allocation``), and the deployment seam (a new deployment and status
updates for existing ones). The leader's plan applier checks each node against the newest state
and may commit only part of a plan; the :class:`PlanResult` says what was committed and, when
something was refused, the state index the scheduler should refresh to before retrying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from caravan.scheduler.state import SchedulerState


@dataclass
class Plan:
    """Changes one evaluation asks for; built by a scheduler, applied by the plan applier.

    ``node_update`` maps a node ID to copies of allocations with ``desired_status`` ``stop``
    (or ``evict``) and a ``desired_description``; ``node_allocation`` maps a node ID to new
    allocations and in-place updated ones. ``deployment`` is a deployment to create or replace;
    ``deployment_updates`` are status changes to existing deployments.
    """

    eval_id: str
    priority: int
    job: Any | None
    all_at_once: bool = False
    node_update: dict[str, list[Any]] = field(default_factory=dict)
    node_allocation: dict[str, list[Any]] = field(default_factory=dict)
    deployment: Any | None = None
    deployment_updates: list[Any] = field(default_factory=list)

    def append_stop(self, alloc: Any, description: str, client_status: str | None = None) -> None:
        """Stop ``alloc`` with Nomad's ``description``; ``client_status`` marks it lost/unknown."""
        changes: dict[str, Any] = {"desired_status": "stop", "desired_description": description}
        if client_status is not None:
            changes["client_status"] = client_status
        self.node_update.setdefault(alloc.node_id, []).append(alloc.model_copy(update=changes))

    def pop_stop(self, alloc: Any) -> None:
        """Take back the stop of ``alloc`` (its replacement could not be placed)."""
        stops = self.node_update.get(alloc.node_id, [])
        self.node_update[alloc.node_id] = [a for a in stops if a.id != alloc.id]
        if not self.node_update[alloc.node_id]:
            del self.node_update[alloc.node_id]

    def append_alloc(self, alloc: Any) -> None:
        """Place a new allocation (or an in-place update of one) on its node."""
        self.node_allocation.setdefault(alloc.node_id, []).append(alloc)

    def is_noop(self) -> bool:
        """True when the plan changes nothing (submitting it would be wasted work)."""
        return (
            not any(self.node_update.values())
            and not any(self.node_allocation.values())
            and self.deployment is None
            and not self.deployment_updates
        )

    def placed_count(self) -> int:
        """How many allocations the plan places or updates."""
        return sum(len(v) for v in self.node_allocation.values())


@dataclass
class PlanResult:
    """What the plan applier committed.

    ``refresh_index`` is non-zero when some nodes were refused because the scheduler's snapshot
    was stale; the scheduler then re-plans against a snapshot at least that new.
    """

    node_update: dict[str, list[Any]] = field(default_factory=dict)
    node_allocation: dict[str, list[Any]] = field(default_factory=dict)
    deployment: Any | None = None
    deployment_updates: list[Any] = field(default_factory=list)
    refresh_index: int = 0
    alloc_index: int = 0

    def is_full_commit(self, plan: Plan) -> tuple[bool, int, int]:
        """``(full, expected, actual)``: whether every placement and stop in ``plan`` landed."""
        expected = sum(len(v) for v in plan.node_allocation.values()) + sum(
            len(v) for v in plan.node_update.values()
        )
        actual = sum(len(v) for v in self.node_allocation.values()) + sum(
            len(v) for v in self.node_update.values()
        )
        return actual == expected, expected, actual


class Planner(Protocol):
    """The scheduler's only way to change anything: submit plans, create and update evals."""

    def submit_plan(self, plan: Plan) -> PlanResult:
        """Apply ``plan`` (possibly partially) and report what was committed."""
        ...

    def refresh_state(self, index: int) -> SchedulerState:
        """A snapshot at least as new as ``index``, to re-plan after a partial commit."""
        ...

    def update_eval(self, evaluation: Any) -> None:
        """Record the evaluation's outcome (status, failed and queued allocations)."""
        ...

    def create_eval(self, evaluation: Any) -> None:
        """Create a follow-up evaluation (a blocked eval, or a delayed reschedule)."""
        ...
