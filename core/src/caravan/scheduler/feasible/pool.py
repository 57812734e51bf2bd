"""Node pool stage: a job only runs on nodes of its node pool (``all`` means any pool)."""

from __future__ import annotations

DEFAULT_POOL = "default"
ALL_POOL = "all"


def pool_matches(node_pool: str | None, job_pool: str | None) -> bool:
    """Whether a node in ``node_pool`` may run a job of ``job_pool`` (empty means ``default``)."""
    job_pool = job_pool or DEFAULT_POOL
    return job_pool == ALL_POOL or (node_pool or DEFAULT_POOL) == job_pool
