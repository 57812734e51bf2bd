"""Per-group allocation counts of a job, and the children of a periodic/parameterized job."""

from __future__ import annotations

from caravan.structs.base import ApiModel


class TaskGroupSummary(ApiModel):
    """How many allocations of one group are in each client state."""

    queued: int = 0
    complete: int = 0
    failed: int = 0
    running: int = 0
    starting: int = 0
    lost: int = 0
    unknown: int = 0


class JobChildrenSummary(ApiModel):
    """How many child jobs of a parent job are pending, running and dead."""

    pending: int = 0
    running: int = 0
    dead: int = 0


class JobSummary(ApiModel):
    """A job's summary (``GET /v1/job/:id/summary``)."""

    job_id: str = ""
    namespace: str = ""
    summary: dict[str, TaskGroupSummary] | None = None
    children: JobChildrenSummary | None = None
    create_index: int = 0
    modify_index: int = 0
