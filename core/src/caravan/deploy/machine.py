"""The deployment state machine: given what the allocations report, what happens next.

:func:`assess` is pure: it reads a deployment, the job as currently registered, the job's
stored versions, its allocations and the time, and returns an :class:`Assessment` saying
whether the deployment changes status (and with which of Nomad's descriptions), whether it is
auto-promoted, which job to register for an auto-revert, and when to look again. The
deployment watcher applies what it says through Raft; tests drive it directly.

The transitions, in the order they are checked:

1. the job was stopped or purged -> ``cancelled`` "Cancelled because job is stopped";
   a newer job version was registered -> ``cancelled`` "Cancelled due to newer version of job";
2. a ``paused`` deployment waits for the operator (nothing below applies);
3. an unhealthy allocation in a group without a progress deadline ->
   ``failed`` "Failed due to unhealthy allocations";
4. a group neither complete nor waiting for promotion with healthy canaries at its
   ``RequireProgressBy`` -> ``failed`` "Failed due to progress deadline";
   (3 and 4 roll back to the latest stable version when the failing group has auto_revert);
5. every canary group has ``auto_promote`` and all canaries are healthy -> promotion;
6. every group promoted (if it had canaries) with enough healthy allocations ->
   ``successful`` "Deployment completed successfully".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from caravan.deploy.progress import GroupProgress, group_progress
from caravan.deploy.rollback import rollback
from caravan.structs.consts import (
    DEPLOYMENT_DESC_FAILED_ALLOCATIONS,
    DEPLOYMENT_DESC_NEWER_JOB,
    DEPLOYMENT_DESC_PROGRESS_DEADLINE,
    DEPLOYMENT_DESC_RUNNING,
    DEPLOYMENT_DESC_RUNNING_AUTO_PROMOTION,
    DEPLOYMENT_DESC_RUNNING_NEEDS_PROMOTION,
    DEPLOYMENT_DESC_STOPPED_JOB,
    DEPLOYMENT_DESC_SUCCESSFUL,
    DEPLOYMENT_STATUS_CANCELLED,
    DEPLOYMENT_STATUS_FAILED,
    DEPLOYMENT_STATUS_PAUSED,
    DEPLOYMENT_STATUS_RUNNING,
    DEPLOYMENT_STATUS_SUCCESSFUL,
)


@dataclass(frozen=True)
class Assessment:
    """What the state machine decided for one deployment.

    ``status``/``description`` are set when the deployment changes status; ``revert_job`` is
    the job to register with a failure (auto-revert); ``promote`` asks for the promotion of
    every group; ``healthy`` are the IDs of the deployment's healthy allocations (the
    watcher creates an evaluation when new ones appear, so the next batch is placed);
    ``wake_at`` (Unix ns, 0 for never) is when a progress deadline needs another look.
    """

    groups: dict[str, GroupProgress] = field(default_factory=dict)
    healthy: frozenset[str] = frozenset()
    status: str | None = None
    description: str = ""
    revert_job: Any | None = None
    promote: bool = False
    wake_at: int = 0


def running_description(deployment: Any) -> str:
    """The description of a running deployment: it names a pending promotion, if any."""
    states = (deployment.task_groups or {}).values()
    waiting = [s for s in states if s.desired_canaries > 0 and not s.promoted]
    if not waiting:
        return DEPLOYMENT_DESC_RUNNING
    if all(s.auto_promote for s in waiting):
        return DEPLOYMENT_DESC_RUNNING_AUTO_PROMOTION
    return DEPLOYMENT_DESC_RUNNING_NEEDS_PROMOTION


def superseded(deployment: Any, job: Any | None) -> str | None:
    """Why ``deployment`` no longer applies to ``job`` (a cancel description), or ``None``."""
    if job is None or job.stop:
        return DEPLOYMENT_DESC_STOPPED_JOB
    same_job = not deployment.job_create_index or deployment.job_create_index == job.create_index
    if not same_job or job.version != deployment.job_version:
        return DEPLOYMENT_DESC_NEWER_JOB
    return None


def _healthy_ids(deployment: Any, allocs: Iterable[Any]) -> frozenset[str]:
    return frozenset(
        a.id
        for a in allocs
        if a.deployment_id == deployment.id
        and a.deployment_status is not None
        and a.deployment_status.healthy is True
    )


def _failure(
    reason: str,
    failing: list[GroupProgress],
    job: Any,
    versions: Iterable[Any],
    base: Assessment,
) -> Assessment:
    description, revert = reason, None
    if any(g.auto_revert for g in failing):
        description, revert = rollback(reason, job, versions)
    return Assessment(
        groups=base.groups,
        healthy=base.healthy,
        status=DEPLOYMENT_STATUS_FAILED,
        description=description,
        revert_job=revert,
    )


def assess(
    deployment: Any,
    job: Any | None,
    allocs: Iterable[Any],
    now: int,
    versions: Iterable[Any] = (),
) -> Assessment:
    """Decide what happens to ``deployment`` now.

    :param deployment: the deployment (:class:`~caravan.structs.Deployment`).
    :param job: the job as currently registered (``None`` once purged).
    :param allocs: the job's allocations, terminal ones included.
    :param now: the current time, Unix nanoseconds.
    :param versions: the job's stored versions (for auto-revert).
    :returns: an :class:`Assessment`; a terminal deployment gets one with no decision.
    """
    allocs = list(allocs)
    groups = group_progress(deployment, allocs)
    base = Assessment(groups=groups, healthy=_healthy_ids(deployment, allocs))
    if deployment.status not in (DEPLOYMENT_STATUS_RUNNING, DEPLOYMENT_STATUS_PAUSED):
        return base
    cancel = superseded(deployment, job)
    if cancel is not None:
        return Assessment(
            groups=groups,
            healthy=base.healthy,
            status=DEPLOYMENT_STATUS_CANCELLED,
            description=cancel,
        )
    if deployment.status == DEPLOYMENT_STATUS_PAUSED:
        return base

    unhealthy = [g for g in groups.values() if not g.progress_deadline and g.unhealthy]
    if unhealthy:
        return _failure(DEPLOYMENT_DESC_FAILED_ALLOCATIONS, unhealthy, job, versions, base)

    pending = [g for g in groups.values() if not g.complete and g.require_progress_by]
    cutoff = min((g.require_progress_by for g in pending), default=0)
    if cutoff and now >= cutoff:
        failing = [g for g in groups.values() if not g.satisfied]
        if failing:
            return _failure(DEPLOYMENT_DESC_PROGRESS_DEADLINE, failing, job, versions, base)
    wake_at = min(
        (g.require_progress_by for g in pending if g.require_progress_by > now), default=0
    )

    waiting = [g for g in groups.values() if g.awaiting_promotion]
    if waiting and all(g.auto_promote and g.canaries_healthy for g in waiting):
        return Assessment(groups=groups, healthy=base.healthy, promote=True, wake_at=wake_at)
    if all(g.complete for g in groups.values()):
        return Assessment(
            groups=groups,
            healthy=base.healthy,
            status=DEPLOYMENT_STATUS_SUCCESSFUL,
            description=DEPLOYMENT_DESC_SUCCESSFUL,
        )
    return Assessment(groups=groups, healthy=base.healthy, wake_at=wake_at)
