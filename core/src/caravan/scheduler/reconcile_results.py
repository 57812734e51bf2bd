"""What the reconciler decides, as plain records the schedulers turn into a plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALLOC_NOT_NEEDED = "alloc not needed due to job update"
ALLOC_UPDATING = "alloc is being updated due to job update"
ALLOC_MIGRATING = "alloc is being migrated"
ALLOC_LOST = "alloc is lost since its node is down"
ALLOC_RESCHEDULED = "alloc was rescheduled because it failed"
ALLOC_NODE_TAINTED = "alloc not needed as node is tainted"

DEPLOYMENT_CANCELLED_NEWER = "Cancelled due to newer version of job"
DEPLOYMENT_CANCELLED_STOPPED = "Cancelled because job is stopped"


@dataclass(slots=True)
class PlaceRequest:
    """A new allocation to place: ``previous_alloc`` is the one it replaces, if any."""

    name: str
    group: str
    previous_alloc: Any | None = None
    reschedule: bool = False
    canary: bool = False
    lost: bool = False
    migrate: bool = False
    #: Unix ns of the reschedule, and the delay that led to it (for the tracker).
    reschedule_delay: int = 0
    penalty_nodes: frozenset[str] = frozenset()
    #: The previous allocation is only stopped if this one is placed (destructive updates
    #: and migrations): when no node fits, the old allocation keeps running.
    stop_previous: bool = False


@dataclass(slots=True)
class StopRequest:
    """An allocation to stop, with Nomad's description and an optional client status."""

    alloc: Any
    description: str
    client_status: str | None = None


@dataclass(slots=True)
class DestructiveUpdate:
    """An allocation replaced by a new one of the same name running the new job version."""

    alloc: Any
    name: str
    group: str


@dataclass(slots=True)
class DelayedReschedule:
    """A failed allocation to reschedule later, at ``at`` (Unix ns)."""

    alloc: Any
    at: int


@dataclass(slots=True)
class DesiredUpdates:
    """Per-group counts of what the plan does (Nomad's ``DesiredTGUpdates``)."""

    ignore: int = 0
    place: int = 0
    migrate: int = 0
    stop: int = 0
    in_place_update: int = 0
    destructive_update: int = 0
    canary: int = 0
    preemptions: int = 0

    def to_api(self) -> dict[str, int]:
        """Nomad's JSON shape."""
        return {
            "Ignore": self.ignore,
            "Place": self.place,
            "Migrate": self.migrate,
            "Stop": self.stop,
            "InPlaceUpdate": self.in_place_update,
            "DestructiveUpdate": self.destructive_update,
            "Canary": self.canary,
            "Preemptions": self.preemptions,
        }


@dataclass(slots=True)
class DeploymentGroup:
    """What a new deployment should track for one group."""

    desired_total: int
    desired_canaries: int
    auto_promote: bool
    auto_revert: bool
    progress_deadline: int


@dataclass(slots=True)
class DeploymentStatusUpdate:
    """A status change of an existing deployment (for example cancelling a superseded one)."""

    deployment_id: str
    status: str
    status_description: str


@dataclass
class ReconcileResult:
    """Everything one reconciliation decided. ``new_deployment`` is set when the job needs a
    deployment that does not exist yet; ``deployment_id`` is the deployment new allocations
    belong to (the existing active one, or the new one once the scheduler creates it)."""

    place: list[PlaceRequest] = field(default_factory=list)
    stop: list[StopRequest] = field(default_factory=list)
    inplace: list[Any] = field(default_factory=list)
    destructive: list[DestructiveUpdate] = field(default_factory=list)
    delayed: list[DelayedReschedule] = field(default_factory=list)
    desired_updates: dict[str, DesiredUpdates] = field(default_factory=dict)
    new_deployment: dict[str, DeploymentGroup] | None = None
    deployment_updates: list[DeploymentStatusUpdate] = field(default_factory=list)
    deployment_id: str | None = None
