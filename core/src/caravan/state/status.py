"""Status strings the store reasons about, and the terminal-state predicates Nomad uses.

The strings are Nomad's exactly (``canceled`` for evaluations, ``cancelled`` for deployments).
The predicates read only the attributes named, so they work on any model with those attributes.
"""

from __future__ import annotations

from typing import Any

JOB_PENDING = "pending"
JOB_RUNNING = "running"
JOB_DEAD = "dead"

EVAL_BLOCKED = "blocked"
EVAL_PENDING = "pending"
EVAL_COMPLETE = "complete"
EVAL_FAILED = "failed"
EVAL_CANCELED = "canceled"

ALLOC_DESIRED_RUN = "run"
ALLOC_DESIRED_STOP = "stop"
ALLOC_DESIRED_EVICT = "evict"

ALLOC_PENDING = "pending"
ALLOC_RUNNING = "running"
ALLOC_COMPLETE = "complete"
ALLOC_FAILED = "failed"
ALLOC_LOST = "lost"
ALLOC_UNKNOWN = "unknown"

DEPLOYMENT_RUNNING = "running"
DEPLOYMENT_PAUSED = "paused"
DEPLOYMENT_FAILED = "failed"
DEPLOYMENT_SUCCESSFUL = "successful"
DEPLOYMENT_CANCELLED = "cancelled"

NODE_READY = "ready"
NODE_DOWN = "down"
NODE_ELIGIBLE = "eligible"
NODE_INELIGIBLE = "ineligible"

JOB_TYPE_SYSTEM = "system"
JOB_TYPE_SYSBATCH = "sysbatch"

_EVAL_TERMINAL = frozenset({EVAL_COMPLETE, EVAL_FAILED, EVAL_CANCELED})
_ALLOC_CLIENT_TERMINAL = frozenset({ALLOC_COMPLETE, ALLOC_FAILED, ALLOC_LOST})
_ALLOC_DESIRED_TERMINAL = frozenset({ALLOC_DESIRED_STOP, ALLOC_DESIRED_EVICT})
_DEPLOYMENT_TERMINAL = frozenset({DEPLOYMENT_FAILED, DEPLOYMENT_SUCCESSFUL, DEPLOYMENT_CANCELLED})

#: Job summary bin for each allocation client status (``pending`` allocations are "Starting").
SUMMARY_BIN = {
    ALLOC_PENDING: "Starting",
    ALLOC_RUNNING: "Running",
    ALLOC_COMPLETE: "Complete",
    ALLOC_FAILED: "Failed",
    ALLOC_LOST: "Lost",
    ALLOC_UNKNOWN: "Unknown",
}
SUMMARY_FIELDS = ("Queued", "Complete", "Failed", "Running", "Starting", "Lost", "Unknown")
CHILDREN_BIN = {JOB_PENDING: "Pending", JOB_RUNNING: "Running", JOB_DEAD: "Dead"}


def eval_terminal(ev: Any) -> bool:
    """An evaluation that will not be processed again (complete, failed or canceled)."""
    return ev.status in _EVAL_TERMINAL


def alloc_terminal(alloc: Any) -> bool:
    """An allocation stopping or done: desired stop/evict, or client complete/failed/lost."""
    return (
        alloc.desired_status in _ALLOC_DESIRED_TERMINAL
        or alloc.client_status in _ALLOC_CLIENT_TERMINAL
    )


def deployment_active(dep: Any) -> bool:
    """A deployment that has not reached failed, successful or cancelled."""
    return dep.status not in _DEPLOYMENT_TERMINAL


def always_running(job: Any) -> bool:
    """Jobs ``running`` until stopped: system jobs, periodic and parameterized parents."""
    if job.type == JOB_TYPE_SYSTEM or getattr(job, "periodic", None) is not None:
        return True
    return getattr(job, "parameterized_job", None) is not None and not getattr(
        job, "dispatched", False
    )


def job_status(
    job: Any, live_allocs: int, live_deployments: int, live_evals: int, has_history: bool
) -> str:
    """A job's status from its counts, as Nomad computes it.

    ``live_*`` count the job's non-terminal allocations, deployments and evaluations;
    ``has_history`` is true when the job has, or had, any allocation or evaluation.
    """
    if always_running(job):
        return JOB_DEAD if job.stop else JOB_RUNNING
    if live_allocs or live_deployments:
        return JOB_RUNNING
    if live_evals:
        return JOB_PENDING
    return JOB_DEAD if has_history else JOB_PENDING
