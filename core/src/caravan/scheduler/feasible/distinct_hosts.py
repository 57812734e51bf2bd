"""distinct_hosts stage: at most one allocation of the job (or of the group) per node.

A job-level ``distinct_hosts`` keeps every allocation of the job on its own node; a group-level
one only keeps the group's allocations apart. This is not memoised per class: it depends on
where the job's allocations already are.
"""

from __future__ import annotations

from typing import Any

#: The ``ConstraintFiltered`` reason recorded when a node already runs the job or group.
DISTINCT_HOSTS = "distinct_hosts"


def _wants(constraints: list[Any]) -> bool:
    return any(
        c.operand == "distinct_hosts" and (c.rtarget or "true").lower() != "false"
        for c in constraints or []
    )


class DistinctHosts:
    """Filters nodes already holding a live allocation of the job (or of the group)."""

    __slots__ = ("group", "job_level", "tg_level")

    def __init__(self, job: Any, tg: Any) -> None:
        self.job_level = _wants(job.constraints)
        self.tg_level = _wants(tg.constraints)
        self.group = tg.name

    @property
    def active(self) -> bool:
        """Whether the job or the group asked for distinct hosts at all."""
        return self.job_level or self.tg_level

    def check(self, counts: dict[str, int]) -> str | None:
        """``counts`` are the job's live allocations per group on the node being checked."""
        if self.job_level and any(n > 0 for n in counts.values()):
            return DISTINCT_HOSTS
        if self.tg_level and counts.get(self.group, 0) > 0:
            return DISTINCT_HOSTS
        return None
