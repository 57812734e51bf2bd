"""The job: what users submit, and what the servers store (one version per change)."""

from __future__ import annotations

from typing import Any

from caravan.structs.base import JobStruct
from caravan.structs.constraints import Affinity, Constraint, Spread
from caravan.structs.group import TaskGroup
from caravan.structs.policies import MigrateStrategy, ReschedulePolicy, UpdateStrategy


class PeriodicConfig(JobStruct):
    """The ``periodic`` block: launch a child job on a cron schedule."""

    enabled: bool | None = None
    spec: str | None = None
    specs: list[str] | None = None
    spec_type: str | None = None
    prohibit_overlap: bool | None = None
    time_zone: str | None = None


class ParameterizedJobConfig(JobStruct):
    """The ``parameterized`` block: the job is a template for ``job dispatch``."""

    payload: str = ""
    meta_required: list[str] | None = None
    meta_optional: list[str] | None = None


class JobUILink(JobStruct):
    """A ``ui { link { label, url } }`` entry."""

    label: str = ""
    url: str = ""


class JobUI(JobStruct):
    """The ``ui`` block: a description and links shown by web interfaces."""

    description: str = ""
    links: list[JobUILink] | None = None


class Job(JobStruct):
    """A job in Nomad's API JSON form (``GET /v1/job/:id``).

    Fields a user may leave out are ``None`` until :func:`caravan.structs.canonicalize` fills
    Nomad's defaults; fields only servers set carry Go's zero values.
    """

    region: str | None = None
    namespace: str | None = None
    id: str | None = None
    name: str | None = None
    type: str | None = None
    priority: int | None = None
    all_at_once: bool | None = None
    datacenters: list[str] | None = None
    node_pool: str | None = None
    constraints: list[Constraint] | None = None
    affinities: list[Affinity] | None = None
    spreads: list[Spread] | None = None
    task_groups: list[TaskGroup] | None = None
    update: UpdateStrategy | None = None
    multiregion: dict[str, Any] | None = None
    periodic: PeriodicConfig | None = None
    parameterized_job: ParameterizedJobConfig | None = None
    reschedule: ReschedulePolicy | None = None
    migrate: MigrateStrategy | None = None
    meta: dict[str, str] | None = None
    ui: JobUI | None = None
    consul_token: str | None = None
    consul_namespace: str | None = None
    vault_token: str | None = None
    vault_namespace: str | None = None
    nomad_token_id: str | None = None
    stop: bool = False
    parent_id: str = ""
    dispatched: bool = False
    dispatch_idempotency_token: str = ""
    payload: str | None = None
    status: str = ""
    status_description: str = ""
    stable: bool = False
    version: int = 0
    submit_time: int = 0
    create_index: int = 0
    modify_index: int = 0
    job_modify_index: int = 0
    version_tag: dict[str, Any] | None = None

    def group(self, name: str) -> TaskGroup | None:
        """The task group called ``name``, or ``None``."""
        return next((g for g in self.task_groups or () if g.name == name), None)

    def is_periodic(self) -> bool:
        """Whether this is a periodic parent job (enabled ``periodic`` block)."""
        return self.periodic is not None and self.periodic.enabled is not False

    def is_parameterized(self) -> bool:
        """Whether this is a parameterized parent job (not one of its dispatched children)."""
        return self.parameterized_job is not None and not self.dispatched

    def stub(self, summary: dict[str, Any] | None = None) -> dict[str, Any]:
        """Nomad's ``JobListStub`` JSON, as ``GET /v1/jobs`` lists it.

        :param summary: the job's summary JSON (``JobSummary``), embedded as Nomad does.
        """
        return {
            "ID": self.id,
            "ParentID": self.parent_id,
            "Name": self.name,
            "Namespace": self.namespace,
            "Datacenters": self.datacenters,
            "Multiregion": self.multiregion,
            "Type": self.type,
            "Priority": self.priority,
            "Periodic": self.is_periodic(),
            "ParameterizedJob": self.is_parameterized(),
            "Stop": self.stop,
            "Status": self.status,
            "StatusDescription": self.status_description,
            "JobSummary": summary,
            "NodePool": self.node_pool,
            "Version": self.version,
            "Meta": self.meta,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
            "JobModifyIndex": self.job_modify_index,
            "SubmitTime": self.submit_time,
        }
