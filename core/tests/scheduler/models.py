"""Stand-in models shaped like Nomad's API JSON, for the scheduler's unit tests.

The scheduler reads snake_case attributes and builds nested values from Nomad's JSON, so these
small pydantic models (PascalCase aliases, Nomad's defaults where the scheduler relies on them)
keep the tests about scheduling rather than about the full job model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

_SPECIAL = {
    "id": "ID",
    "mb": "MB",
    "mbits": "MBits",
    "tg": "TG",
    "ip": "IP",
    "ltarget": "LTarget",
    "rtarget": "RTarget",
}


def _alias(name: str) -> str:
    return "".join(_SPECIAL.get(part, part.capitalize()) for part in name.split("_"))


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=_alias, populate_by_name=True, extra="ignore")


class Constraint(Model):
    ltarget: str = ""
    rtarget: str = ""
    operand: str = "="


class Affinity(Model):
    ltarget: str = ""
    rtarget: str = ""
    operand: str = "="
    weight: int = 50


class SpreadTarget(Model):
    value: str
    percent: int = 0


class Spread(Model):
    attribute: str
    weight: int = 50
    spread_target: list[SpreadTarget] = []


class Port(Model):
    label: str
    value: int = 0
    to: int = 0
    host_network: str = "default"


class NetworkResource(Model):
    mode: str = "host"
    mbits: int = 0
    reserved_ports: list[Port] = []
    dynamic_ports: list[Port] = []


class Resources(Model):
    cpu: int = 100
    memory_mb: int = 300
    networks: list[NetworkResource] = []


class Service(Model):
    name: str = ""
    tags: list[str] = []
    port_label: str = ""


class Task(Model):
    name: str = "t"
    driver: str = "mock"
    config: dict[str, Any] = {}
    env: dict[str, str] = {}
    resources: Resources | None = Resources()
    constraints: list[Constraint] = []
    affinities: list[Affinity] = []
    meta: dict[str, str] = {}
    services: list[Service] = []


class UpdateStrategy(Model):
    max_parallel: int = 1
    canary: int = 0
    auto_promote: bool = False
    auto_revert: bool = False
    progress_deadline: int = 600_000_000_000


class MigrateStrategy(Model):
    max_parallel: int = 1


class ReschedulePolicy(Model):
    attempts: int = 0
    interval: int = 0
    delay: int = 30_000_000_000
    delay_function: str = "exponential"
    max_delay: int = 3_600_000_000_000
    unlimited: bool = True


class EphemeralDisk(Model):
    size_mb: int = 300


class TaskGroup(Model):
    name: str = "g"
    count: int = 1
    constraints: list[Constraint] = []
    affinities: list[Affinity] = []
    spreads: list[Spread] = []
    tasks: list[Task] = [Task()]
    networks: list[NetworkResource] = []
    ephemeral_disk: EphemeralDisk | None = EphemeralDisk()
    update: UpdateStrategy | None = None
    migrate: MigrateStrategy | None = None
    reschedule_policy: ReschedulePolicy | None = ReschedulePolicy()
    meta: dict[str, str] = {}
    services: list[Service] = []


class Job(Model):
    id: str = "web"
    name: str = "web"
    namespace: str = "default"
    region: str = "global"
    type: str = "service"
    priority: int = 50
    datacenters: list[str] = ["*"]
    node_pool: str = "default"
    all_at_once: bool = False
    constraints: list[Constraint] = []
    affinities: list[Affinity] = []
    spreads: list[Spread] = []
    task_groups: list[TaskGroup] = [TaskGroup()]
    stop: bool = False
    version: int = 0
    create_index: int = 1
    modify_index: int = 1
    job_modify_index: int = 1
    meta: dict[str, str] = {}


class DriverInfo(Model):
    detected: bool = True
    healthy: bool = True


class NodeCpu(Model):
    cpu_shares: int = 0


class NodeMemory(Model):
    memory_mb: int = 0


class NodeDisk(Model):
    disk_mb: int = 0


class NodeNetwork(Model):
    mbits: int = 0


class NodeResources(Model):
    cpu: NodeCpu = NodeCpu(cpu_shares=4000)
    memory: NodeMemory = NodeMemory(memory_mb=8192)
    disk: NodeDisk = NodeDisk(disk_mb=100_000)
    networks: list[NodeNetwork] = []
    min_dynamic_port: int = 20000
    max_dynamic_port: int = 32000


class ReservedNetworks(Model):
    reserved_host_ports: str = ""


class ReservedResources(Model):
    cpu: NodeCpu = NodeCpu()
    memory: NodeMemory = NodeMemory()
    disk: NodeDisk = NodeDisk()
    networks: ReservedNetworks = ReservedNetworks()


class Node(Model):
    id: str
    name: str = ""
    datacenter: str = "dc1"
    region: str = "global"
    node_class: str = ""
    node_pool: str = "default"
    computed_class: str = ""
    status: str = "ready"
    scheduling_eligibility: str = "eligible"
    drain_strategy: dict[str, Any] | None = None
    attributes: dict[str, str] = {"kernel.name": "linux"}
    meta: dict[str, str] = {}
    drivers: dict[str, DriverInfo] = {"mock": DriverInfo()}
    node_resources: NodeResources = NodeResources()
    reserved_resources: ReservedResources | None = None


class AllocatedCpu(Model):
    cpu_shares: int = 0


class AllocatedMemory(Model):
    memory_mb: int = 0


class AllocatedTask(Model):
    cpu: AllocatedCpu | None = None
    memory: AllocatedMemory | None = None
    networks: list[NetworkResource] = []


class AllocatedPortMapping(Model):
    label: str
    value: int
    to: int = 0
    host_ip: str = ""


class AllocatedShared(Model):
    disk_mb: int = 0
    networks: list[NetworkResource] = []
    ports: list[AllocatedPortMapping] = []


class AllocatedResources(Model):
    tasks: dict[str, AllocatedTask] = {}
    shared: AllocatedShared | None = None


class NodeScoreMeta(Model):
    node_id: str
    scores: dict[str, float] = {}
    norm_score: float = 0.0


class AllocationMetric(Model):
    nodes_evaluated: int = 0
    nodes_filtered: int = 0
    nodes_available: dict[str, int] = {}
    class_filtered: dict[str, int] = {}
    constraint_filtered: dict[str, int] = {}
    nodes_exhausted: int = 0
    class_exhausted: dict[str, int] = {}
    dimension_exhausted: dict[str, int] = {}
    score_meta_data: list[NodeScoreMeta] = []
    coalesced_failures: int = 0


class RescheduleEvent(Model):
    reschedule_time: int = 0
    prev_alloc_id: str = ""
    prev_node_id: str = ""
    delay: int = 0


class RescheduleTracker(Model):
    events: list[RescheduleEvent] = []


class AllocDeploymentStatus(Model):
    healthy: bool | None = None
    canary: bool = False


class Allocation(Model):
    id: str
    namespace: str = "default"
    eval_id: str = ""
    name: str = ""
    node_id: str = ""
    node_name: str = ""
    job_id: str = ""
    job: Job | None = None
    task_group: str = ""
    allocated_resources: AllocatedResources | None = None
    desired_status: str = "run"
    desired_description: str = ""
    client_status: str = "pending"
    client_description: str = ""
    metrics: AllocationMetric | None = None
    deployment_id: str = ""
    deployment_status: AllocDeploymentStatus | None = None
    previous_allocation: str = ""
    next_allocation: str = ""
    followup_eval_id: str = ""
    reschedule_tracker: RescheduleTracker | None = None
    task_states: dict[str, Any] = {}
    create_time: int = 0
    modify_time: int = 0


class Evaluation(Model):
    id: str
    namespace: str = "default"
    priority: int = 50
    type: str = "service"
    triggered_by: str = "job-register"
    job_id: str = ""
    node_id: str = ""
    status: str = "pending"
    status_description: str = ""
    failed_tg_allocs: dict[str, AllocationMetric] | None = None
    queued_allocations: dict[str, int] = {}
    blocked_eval: str = ""
    previous_eval: str = ""
    class_eligibility: dict[str, bool] | None = None
    escaped_computed_class: bool = False
    wait_until: datetime | None = None


class DeploymentState(Model):
    promoted: bool = False
    placed_canaries: list[str] | None = None
    auto_promote: bool = False
    auto_revert: bool = False
    progress_deadline: int = 0
    desired_canaries: int = 0
    desired_total: int = 0


class Deployment(Model):
    id: str
    namespace: str = "default"
    job_id: str = ""
    job_version: int = 0
    job_modify_index: int = 0
    job_create_index: int = 0
    status: str = "running"
    status_description: str = ""
    task_groups: dict[str, DeploymentState] = {}
    create_index: int = 0
