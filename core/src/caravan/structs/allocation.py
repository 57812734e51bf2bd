"""An allocation: one instance of a task group placed on one node.

Kept plain (no validators beyond field types): the servers hold very many of them, and the
scheduler builds them with ``model_construct``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caravan.structs.base import ApiModel, GoTime
from caravan.structs.consts import (
    ALLOC_CLIENT_COMPLETE,
    ALLOC_CLIENT_FAILED,
    ALLOC_CLIENT_LOST,
    ALLOC_DESIRED_EVICT,
    ALLOC_DESIRED_STOP,
    TASK_STATE_PENDING,
)
from caravan.structs.job import Job
from caravan.structs.metrics import AllocationMetric
from caravan.structs.resources import NetworkResource


class AllocatedCpuResources(ApiModel):
    """CPU granted to one task, in MHz."""

    cpu_shares: int = Field(default=0, alias="CpuShares")
    reserved_cores: list[int] | None = None


class AllocatedMemoryResources(ApiModel):
    """Memory granted to one task, in MB."""

    memory_mb: int = 0
    memory_max_mb: int = 0


class AllocatedTaskResources(ApiModel):
    """What one task of the allocation holds."""

    cpu: AllocatedCpuResources | None = Field(default=None, alias="Cpu")
    memory: AllocatedMemoryResources | None = None
    networks: list[NetworkResource] | None = None
    devices: list[dict[str, Any]] | None = None


class AllocatedPortMapping(ApiModel):
    """A port the allocation holds: host port ``value`` mapped to ``to`` on ``host_ip``."""

    label: str = ""
    value: int = 0
    to: int = 0
    host_ip: str = ""


class AllocatedSharedResources(ApiModel):
    """What all tasks of the allocation share: group networks, ports and ephemeral disk."""

    networks: list[NetworkResource] | None = None
    disk_mb: int = 0
    ports: list[AllocatedPortMapping] | None = None


class AllocatedResources(ApiModel):
    """Everything the allocation holds on its node."""

    tasks: dict[str, AllocatedTaskResources] | None = None
    task_lifecycles: dict[str, Any] | None = None
    shared: AllocatedSharedResources | None = None


class TaskEvent(ApiModel):
    """One event in a task's life (``Type`` is one of the ``TASK_*`` event constants)."""

    type: str = ""
    time: int = 0
    message: str = ""
    display_message: str = ""
    details: dict[str, str] | None = None
    fails_task: bool = False
    restart_reason: str = ""
    setup_error: str = ""
    driver_error: str = ""
    exit_code: int = 0
    signal: int = 0
    kill_timeout: int = 0
    kill_error: str = ""
    kill_reason: str = ""
    start_delay: int = 0
    download_error: str = ""
    validation_error: str = ""
    failed_sibling: str = ""
    task_signal_reason: str = ""
    task_signal: str = ""
    driver_message: str = ""


class TaskState(ApiModel):
    """A task's state on its client: ``pending``, ``running`` or ``dead`` (+ ``failed``)."""

    state: str = TASK_STATE_PENDING
    failed: bool = False
    restarts: int = 0
    last_restart: GoTime = None
    started_at: GoTime = None
    finished_at: GoTime = None
    events: list[TaskEvent] | None = None
    task_handle: dict[str, Any] | None = None


class DesiredTransition(ApiModel):
    """Operator/server requests to move the allocation (drain migration, forced reschedule)."""

    migrate: bool | None = None
    reschedule: bool | None = None
    force_reschedule: bool | None = None
    no_shutdown_delay: bool | None = None


class AllocDeploymentStatus(ApiModel):
    """The allocation's health within its deployment; ``healthy`` is ``None`` until known."""

    healthy: bool | None = None
    timestamp: GoTime = None
    canary: bool = False
    modify_index: int = 0


class RescheduleEvent(ApiModel):
    """One past reschedule of this allocation's predecessors."""

    reschedule_time: int = 0
    prev_alloc_id: str = ""
    prev_node_id: str = ""
    delay: int = 0


class RescheduleTracker(ApiModel):
    """The reschedule history carried from allocation to replacement."""

    events: list[RescheduleEvent] | None = None


class Allocation(ApiModel):
    """An allocation (``GET /v1/allocation/:id``)."""

    id: str = ""
    namespace: str = ""
    eval_id: str = ""
    name: str = ""
    node_id: str = ""
    node_name: str = ""
    job_id: str = ""
    job: Job | None = None
    task_group: str = ""
    allocated_resources: AllocatedResources | None = None
    metrics: AllocationMetric | None = None
    desired_status: str = ""
    desired_description: str = ""
    desired_transition: DesiredTransition = Field(default_factory=DesiredTransition)
    client_status: str = ""
    client_description: str = ""
    task_states: dict[str, TaskState] | None = None
    alloc_states: list[dict[str, Any]] | None = None
    deployment_id: str = ""
    deployment_status: AllocDeploymentStatus | None = None
    reschedule_tracker: RescheduleTracker | None = None
    network_status: dict[str, Any] | None = None
    followup_eval_id: str = ""
    previous_allocation: str = ""
    next_allocation: str = ""
    preempted_allocations: list[str] | None = None
    preempted_by_allocation: str = ""
    create_index: int = 0
    modify_index: int = 0
    alloc_modify_index: int = 0
    create_time: int = 0
    modify_time: int = 0

    def server_terminal_status(self) -> bool:
        """Whether the servers want it gone (desired ``stop`` or ``evict``)."""
        return self.desired_status in (ALLOC_DESIRED_STOP, ALLOC_DESIRED_EVICT)

    def client_terminal_status(self) -> bool:
        """Whether its client reports it finished (``complete``, ``failed`` or ``lost``)."""
        return self.client_status in (ALLOC_CLIENT_COMPLETE, ALLOC_CLIENT_FAILED, ALLOC_CLIENT_LOST)

    def terminal_status(self) -> bool:
        """Whether the allocation is terminal: stopped/evicted, or complete/failed/lost."""
        return self.server_terminal_status() or self.client_terminal_status()

    def stub(self) -> dict[str, Any]:
        """Nomad's ``AllocListStub`` JSON, as ``GET /v1/allocations`` lists it."""
        data = self.model_dump(
            by_alias=True,
            mode="json",
            include={
                "allocated_resources",
                "desired_transition",
                "task_states",
                "deployment_status",
                "reschedule_tracker",
            },
        )
        return {
            "ID": self.id,
            "EvalID": self.eval_id,
            "Name": self.name,
            "Namespace": self.namespace,
            "NodeID": self.node_id,
            "NodeName": self.node_name,
            "JobID": self.job_id,
            "JobType": self.job.type if self.job is not None else "",
            "JobVersion": self.job.version if self.job is not None else 0,
            "TaskGroup": self.task_group,
            "AllocatedResources": data["AllocatedResources"],
            "DesiredStatus": self.desired_status,
            "DesiredDescription": self.desired_description,
            "ClientStatus": self.client_status,
            "ClientDescription": self.client_description,
            "DesiredTransition": data["DesiredTransition"],
            "TaskStates": data["TaskStates"],
            "DeploymentStatus": data["DeploymentStatus"],
            "FollowupEvalID": self.followup_eval_id,
            "NextAllocation": self.next_allocation,
            "RescheduleTracker": data["RescheduleTracker"],
            "PreemptedAllocations": self.preempted_allocations,
            "PreemptedByAllocation": self.preempted_by_allocation,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
            "CreateTime": self.create_time,
            "ModifyTime": self.modify_time,
        }
