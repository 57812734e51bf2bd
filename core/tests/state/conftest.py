"""Fixtures for the state store tests: small models shaped like Nomad's API JSON.

The store only needs attributes, ``from_api``/``to_api`` and pydantic copies, so these
stand-ins keep the tests about the store's behaviour rather than the full job model.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from caravan.state import FSM, ModelSet, StateStore
from caravan.state import commands as c

_SPECIAL = {"id": "ID", "tg": "TG"}


def _alias(name: str) -> str:
    return "".join(_SPECIAL.get(part, part.capitalize()) for part in name.split("_"))


class Model(BaseModel):
    model_config = ConfigDict(alias_generator=_alias, populate_by_name=True)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Any:
        return cls.model_validate(data)

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


class TaskGroup(Model):
    name: str
    count: int = 1


class Job(Model):
    id: str
    namespace: str = "default"
    name: str = ""
    type: str = "service"
    priority: int = 50
    stop: bool = False
    status: str = ""
    stable: bool = False
    version: int = 0
    submit_time: int = 0
    parent_id: str = ""
    periodic: dict[str, Any] | None = None
    parameterized_job: dict[str, Any] | None = None
    dispatched: bool = False
    meta: dict[str, str] = {}
    task_groups: list[TaskGroup] = []
    create_index: int = 0
    modify_index: int = 0
    job_modify_index: int = 0


class DeploymentStatus(Model):
    healthy: bool | None = None
    timestamp: str | None = None
    canary: bool = False
    modify_index: int = 0


class DesiredTransition(Model):
    migrate: bool | None = None
    reschedule: bool | None = None
    force_reschedule: bool | None = None


class TaskState(Model):
    state: str = "pending"
    failed: bool = False


class Allocation(Model):
    id: str
    namespace: str = "default"
    eval_id: str = ""
    name: str = ""
    node_id: str = ""
    job_id: str = ""
    job: Job | None = None
    task_group: str = "web"
    desired_status: str = "run"
    desired_description: str = ""
    client_status: str = "pending"
    client_description: str = ""
    task_states: dict[str, TaskState] | None = None
    deployment_id: str = ""
    deployment_status: DeploymentStatus | None = None
    desired_transition: DesiredTransition | None = None
    network_status: dict[str, Any] | None = None
    preempted_by_allocation: str = ""
    create_index: int = 0
    modify_index: int = 0
    alloc_modify_index: int = 0
    modify_time: int = 0


class Evaluation(Model):
    id: str
    namespace: str = "default"
    job_id: str = ""
    status: str = "pending"
    status_description: str = ""
    triggered_by: str = "job-register"
    type: str = "service"
    priority: int = 50
    job_modify_index: int = 0
    queued_allocations: dict[str, int] | None = None
    failed_tg_allocs: dict[str, Any] | None = None
    create_index: int = 0
    modify_index: int = 0


class DeploymentState(Model):
    promoted: bool = False
    placed_canaries: list[str] | None = None
    desired_canaries: int = 0
    desired_total: int = 0
    placed_allocs: int = 0
    healthy_allocs: int = 0
    unhealthy_allocs: int = 0


class Deployment(Model):
    id: str
    namespace: str = "default"
    job_id: str = ""
    job_version: int = 0
    status: str = "running"
    status_description: str = "Deployment is running"
    task_groups: dict[str, DeploymentState] = {}
    create_index: int = 0
    modify_index: int = 0


class DrainStrategy(Model):
    deadline: int = 0
    ignore_system_jobs: bool = False


class NodeEvent(Model):
    message: str
    subsystem: str = "Cluster"
    timestamp: str = ""
    create_index: int = 0


class Node(Model):
    id: str
    name: str = ""
    datacenter: str = "dc1"
    status: str = "ready"
    status_updated_at: int = 0
    scheduling_eligibility: str = "eligible"
    drain: bool = False
    drain_strategy: DrainStrategy | None = None
    events: list[NodeEvent] | None = None
    create_index: int = 0
    modify_index: int = 0


class ServiceRegistration(Model):
    id: str
    service_name: str
    namespace: str = "default"
    node_id: str = ""
    datacenter: str = "dc1"
    job_id: str = ""
    alloc_id: str = ""
    tags: list[str] = []
    address: str = "127.0.0.1"
    port: int = 0
    create_index: int = 0
    modify_index: int = 0


class TaskGroupSummary(Model):
    queued: int = 0
    complete: int = 0
    failed: int = 0
    running: int = 0
    starting: int = 0
    lost: int = 0
    unknown: int = 0


class JobSummary(Model):
    job_id: str
    namespace: str = "default"
    summary: dict[str, TaskGroupSummary] = {}
    children: dict[str, int] | None = None
    create_index: int = 0
    modify_index: int = 0


MODELS = ModelSet(
    job=Job,
    node=Node,
    allocation=Allocation,
    evaluation=Evaluation,
    deployment=Deployment,
    service_registration=ServiceRegistration,
    job_summary=JobSummary,
)


class Make:
    """Factories for test objects with readable defaults and fresh UUIDs."""

    def __init__(self) -> None:
        self._random = random.Random(4646)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    def job(self, job_id: str = "web", groups: tuple[str, ...] = ("web",), **kw: Any) -> Job:
        return Job(id=job_id, name=job_id, task_groups=[TaskGroup(name=g) for g in groups], **kw)

    def eval(self, job_id: str = "web", **kw: Any) -> Evaluation:
        return Evaluation(id=kw.pop("id", None) or self.uuid(), job_id=job_id, **kw)

    def alloc(self, job_id: str = "web", **kw: Any) -> Allocation:
        return Allocation(id=kw.pop("id", None) or self.uuid(), job_id=job_id, **kw)

    def node(self, **kw: Any) -> Node:
        return Node(id=kw.pop("id", None) or self.uuid(), **kw)

    def deployment(self, job_id: str = "web", groups: dict[str, dict] | None = None, **kw):
        states = {g: DeploymentState(**s) for g, s in (groups or {"web": {}}).items()}
        return Deployment(
            id=kw.pop("id", None) or self.uuid(), job_id=job_id, task_groups=states, **kw
        )

    def service(self, name: str = "web", **kw: Any) -> ServiceRegistration:
        return ServiceRegistration(id=kw.pop("id", None) or self.uuid(), service_name=name, **kw)


class Cluster:
    """A store and its FSM, with a Raft index that advances on every applied command."""

    def __init__(self) -> None:
        self.store = StateStore(MODELS)
        self.fsm = FSM(self.store)
        self.index = 0

    def apply(self, data: bytes) -> Any:
        self.index += 1
        return self.fsm.apply(self.index, data)


@pytest.fixture
def make() -> Make:
    return Make()


@pytest.fixture
def cluster() -> Cluster:
    return Cluster()


__all__ = ["MODELS", "Cluster", "Make", "c"]
