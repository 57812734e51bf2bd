"""How far each task group of a deployment has got, counted from its allocations.

The state store keeps running counters on the deployment (``PlacedAllocs``, ``HealthyAllocs``,
``UnhealthyAllocs``), but the decisions of the deployment state machine are taken from the
allocations themselves, as Nomad's deployment watcher does: an allocation that was healthy
and then failed no longer counts, and allocations of the deployment's job version that were
updated in place (a count change) count with the health they already proved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def time_ns(value: datetime | int | None) -> int:
    """Unix nanoseconds of a model timestamp (``GoTime`` or ns); 0 for unset."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return int(value.timestamp() * 1_000_000_000)
    return int(value)


@dataclass(frozen=True, slots=True)
class GroupProgress:
    """One task group's progress within a deployment.

    ``healthy`` counts live allocations (not stopped, failed or lost) whose deployment health
    is healthy, canaries included; ``require_progress_by`` (Unix ns, 0 when there is no
    progress deadline or nothing was placed yet) is the first placement plus the group's
    ``progress_deadline``, pushed back by each allocation that becomes healthy.
    """

    desired_total: int
    desired_canaries: int
    promoted: bool
    auto_promote: bool
    auto_revert: bool
    progress_deadline: int
    placed: int
    healthy: int
    unhealthy: int
    placed_canaries: int
    healthy_canaries: int
    require_progress_by: int

    @property
    def awaiting_promotion(self) -> bool:
        """Canaries were asked for and the group is not promoted yet."""
        return self.desired_canaries > 0 and not self.promoted

    @property
    def canaries_healthy(self) -> bool:
        """Every desired canary is placed and healthy."""
        return self.healthy_canaries >= self.desired_canaries

    @property
    def complete(self) -> bool:
        """Nothing left to do: promoted if it had canaries, and ``desired_total`` healthy
        allocations running (promotion already required every canary to be healthy, so
        canaries beyond the count, stopped after promotion, are not waited for)."""
        if self.awaiting_promotion:
            return False
        return self.healthy >= self.desired_total

    @property
    def satisfied(self) -> bool:
        """Not failing at a progress deadline: complete, or waiting for promotion with
        healthy canaries (only the promotion is missing, which is the operator's call)."""
        if self.awaiting_promotion:
            return self.canaries_healthy
        return self.complete


def _live(alloc: Any) -> bool:
    return alloc.desired_status == "run" and alloc.client_status not in (
        "complete",
        "failed",
        "lost",
    )


def _health(alloc: Any) -> bool | None:
    status = alloc.deployment_status
    return None if status is None else status.healthy


def _carried_over(alloc: Any, deployment: Any) -> bool:
    # Updated in place to this deployment's job version while still belonging to an older
    # deployment: it runs the new version and its health holds.
    job = alloc.job
    return (
        alloc.deployment_id != deployment.id
        and job is not None
        and job.version == deployment.job_version
        and (not deployment.job_create_index or job.create_index == deployment.job_create_index)
        and _live(alloc)
        and _health(alloc) is True
    )


def group_progress(deployment: Any, allocs: Iterable[Any]) -> dict[str, GroupProgress]:
    """Each of the deployment's groups' progress.

    :param deployment: a :class:`~caravan.structs.Deployment`.
    :param allocs: the job's allocations (any deployment, terminal ones included).
    :returns: ``{group name: GroupProgress}`` for every group the deployment tracks.
    """
    states = deployment.task_groups or {}
    mine: dict[str, list[Any]] = {name: [] for name in states}
    carried: dict[str, int] = {name: 0 for name in states}
    for alloc in allocs:
        if alloc.task_group not in states:
            continue
        if alloc.deployment_id == deployment.id:
            mine[alloc.task_group].append(alloc)
        elif _carried_over(alloc, deployment):
            carried[alloc.task_group] += 1
    out = {}
    for name, state in states.items():
        group = mine[name]
        canary_ids = set(state.placed_canaries or ())
        canary_ids.update(
            a.id for a in group if a.deployment_status is not None and a.deployment_status.canary
        )
        healthy = [a for a in group if _live(a) and _health(a) is True]
        pd = state.progress_deadline or 0
        require_by = 0
        if pd and group:
            first = min(time_ns(a.create_time) for a in group)
            latest = max(
                (time_ns(a.deployment_status.timestamp) for a in group if _health(a) is True),
                default=0,
            )
            require_by = max(first, latest) + pd
        out[name] = GroupProgress(
            desired_total=state.desired_total,
            desired_canaries=state.desired_canaries,
            promoted=state.promoted,
            auto_promote=state.auto_promote,
            auto_revert=state.auto_revert,
            progress_deadline=pd,
            placed=len(group) + carried[name],
            healthy=len(healthy) + carried[name],
            unhealthy=sum(1 for a in group if _health(a) is False),
            placed_canaries=sum(1 for a in group if a.id in canary_ids),
            healthy_canaries=sum(1 for a in healthy if a.id in canary_ids),
            require_progress_by=require_by,
        )
    return out
