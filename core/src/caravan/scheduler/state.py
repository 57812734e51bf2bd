"""The reads the scheduler makes of a state snapshot.

:class:`SchedulerState` is satisfied by :class:`caravan.state.snapshot.StateSnapshot` and by the
in-memory state of :mod:`caravan.scheduler.harness`. Every method is a pure read of one
immutable point in time; the scheduler never writes through it.
"""

from __future__ import annotations

from typing import Any, Protocol


class SchedulerState(Protocol):
    """An immutable snapshot of the cluster as the scheduler sees it."""

    @property
    def index(self) -> int:
        """The Raft index the snapshot reflects."""
        ...

    def job_by_id(self, namespace: str, job_id: str) -> Any | None:
        """The current version of a job, or ``None`` once it is purged."""
        ...

    def nodes(self) -> list[Any]:
        """Every registered node, sorted by ID."""
        ...

    def node_by_id(self, node_id: str) -> Any | None:
        """One node, or ``None``."""
        ...

    def allocs_by_job(
        self, namespace: str, job_id: str, any_create_index: bool = True
    ) -> list[Any]:
        """Every allocation of a job (terminal ones included), sorted by ID."""
        ...

    def allocs_by_node(self, node_id: str) -> list[Any]:
        """Every allocation on a node (terminal ones included), sorted by ID."""
        ...

    def latest_deployment_by_job(self, namespace: str, job_id: str) -> Any | None:
        """The job's most recently created deployment, or ``None``."""
        ...
