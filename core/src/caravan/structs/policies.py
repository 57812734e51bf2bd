"""How a group is updated, restarted, rescheduled and migrated, and its ephemeral disk.

Every field is optional (``None`` = not set) because Nomad merges these blocks field by field:
job-level ``update``/``reschedule``/``migrate`` into each group, a group's ``restart`` into
each task. :func:`caravan.structs.canonicalize` fills the defaults.
"""

from __future__ import annotations

from caravan.structs.base import JobStruct


class UpdateStrategy(JobStruct):
    """The ``update`` block: rolling updates, canaries and deployment health."""

    stagger: int | None = None
    max_parallel: int | None = None
    health_check: str | None = None
    min_healthy_time: int | None = None
    healthy_deadline: int | None = None
    progress_deadline: int | None = None
    auto_revert: bool | None = None
    auto_promote: bool | None = None
    canary: int | None = None


class RestartPolicy(JobStruct):
    """The ``restart`` block: local restarts of failed tasks on the same node."""

    attempts: int | None = None
    interval: int | None = None
    delay: int | None = None
    mode: str | None = None
    render_templates: bool | None = None


class ReschedulePolicy(JobStruct):
    """The ``reschedule`` block: replacing failed allocations, possibly on other nodes."""

    attempts: int | None = None
    interval: int | None = None
    delay: int | None = None
    delay_function: str | None = None
    max_delay: int | None = None
    unlimited: bool | None = None


class MigrateStrategy(JobStruct):
    """The ``migrate`` block: how allocations leave a draining node."""

    max_parallel: int | None = None
    health_check: str | None = None
    min_healthy_time: int | None = None
    healthy_deadline: int | None = None


class EphemeralDisk(JobStruct):
    """The ``ephemeral_disk`` block; ``size_mb`` is the HCL ``size``."""

    sticky: bool | None = None
    migrate: bool | None = None
    size_mb: int | None = None
