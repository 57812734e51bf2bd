"""caravan's scheduler: pure functions from (evaluation, state snapshot) to a plan.

See ``README.md`` in this package for the pipeline and a glossary. Build a scheduler for a job
type with :func:`new_scheduler` and call ``process(evaluation, snapshot, planner)``.
"""

from __future__ import annotations

from collections.abc import Callable

from caravan.scheduler.base import SchedulerBase
from caravan.scheduler.build import SchedulerModels
from caravan.scheduler.generic import GenericScheduler
from caravan.scheduler.planner import Plan, Planner, PlanResult
from caravan.scheduler.resources import Usage
from caravan.scheduler.state import SchedulerState
from caravan.scheduler.system import SystemScheduler

__all__ = [
    "GenericScheduler",
    "Plan",
    "PlanResult",
    "Planner",
    "SchedulerBase",
    "SchedulerModels",
    "SchedulerState",
    "SystemScheduler",
    "new_scheduler",
]

#: The job types :func:`new_scheduler` knows.
SCHEDULER_TYPES = ("service", "batch", "system", "sysbatch")


def new_scheduler(
    job_type: str,
    *,
    clock: Callable[[], int],
    seed: int | None = None,
    models: SchedulerModels | None = None,
    usage_memo: dict[str, Usage] | None = None,
) -> SchedulerBase:
    """A scheduler for ``job_type`` (``service``, ``batch``, ``system`` or ``sysbatch``).

    ``sysbatch`` jobs use the system scheduler, which never re-runs a finished allocation.
    ``clock`` returns the current time in Unix nanoseconds. A worker that keeps one scheduler
    per type (or passes the same ``usage_memo`` dict) reads each allocation's resources once.
    Raises ``ValueError`` for any other job type.
    """
    if job_type in ("service", "batch"):
        return GenericScheduler(
            batch=job_type == "batch", clock=clock, seed=seed, models=models, usage_memo=usage_memo
        )
    if job_type in ("system", "sysbatch"):
        return SystemScheduler(clock=clock, seed=seed, models=models, usage_memo=usage_memo)
    raise ValueError(f"no scheduler for job type {job_type!r}; expected one of {SCHEDULER_TYPES}")
