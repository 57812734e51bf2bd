"""A task group: the unit of placement, whose tasks always run together on one node."""

from __future__ import annotations

from typing import Any

from caravan.structs.base import JobStruct
from caravan.structs.constraints import Affinity, Constraint, Spread
from caravan.structs.policies import (
    EphemeralDisk,
    MigrateStrategy,
    ReschedulePolicy,
    RestartPolicy,
    UpdateStrategy,
)
from caravan.structs.resources import NetworkResource
from caravan.structs.services import Service
from caravan.structs.task import Task


class DisconnectStrategy(JobStruct):
    """The ``disconnect`` block: what happens to allocations on a client that lost contact."""

    lost_after: int | None = None
    replace: bool | None = None
    reconcile: str | None = None
    stop_on_client_after: int | None = None


class TaskGroup(JobStruct):
    """A ``group`` block; ``count`` instances of it are placed."""

    name: str = ""
    count: int | None = None
    constraints: list[Constraint] | None = None
    affinities: list[Affinity] | None = None
    spreads: list[Spread] | None = None
    tasks: list[Task] | None = None
    volumes: dict[str, dict[str, Any]] | None = None
    restart_policy: RestartPolicy | None = None
    reschedule_policy: ReschedulePolicy | None = None
    ephemeral_disk: EphemeralDisk | None = None
    update: UpdateStrategy | None = None
    migrate: MigrateStrategy | None = None
    networks: list[NetworkResource] | None = None
    services: list[Service] | None = None
    meta: dict[str, str] | None = None
    shutdown_delay: int | None = None
    stop_after_client_disconnect: int | None = None
    max_client_disconnect: int | None = None
    disconnect: DisconnectStrategy | None = None
    scaling: dict[str, Any] | None = None
    consul: dict[str, Any] | None = None
    prevent_reschedule_on_lost: bool | None = None

    def task(self, name: str) -> Task | None:
        """The task called ``name``, or ``None``."""
        return next((t for t in self.tasks or () if t.name == name), None)
