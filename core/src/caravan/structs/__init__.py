"""caravan's job model: Nomad's API JSON as pydantic models, with defaults, validation and diff.

Everything other packages need is exported here::

    job = canonicalize(Job.from_api(data))
    warnings = validate_job(job)
    diff = diff_jobs(old, job)
"""

from caravan.structs.allocation import (
    AllocatedResources,
    Allocation,
    AllocDeploymentStatus,
    DesiredTransition,
    RescheduleEvent,
    RescheduleTracker,
    TaskEvent,
    TaskState,
)
from caravan.structs.base import ApiModel, GoTime, JobStruct, api_name
from caravan.structs.canonicalize import canonicalize
from caravan.structs.constraints import Affinity, Constraint, Spread, SpreadTarget
from caravan.structs.deployment import Deployment, DeploymentState
from caravan.structs.diff import diff_jobs
from caravan.structs.diff_format import format_diff
from caravan.structs.durations import format_duration, parse_duration
from caravan.structs.evaluation import Evaluation
from caravan.structs.group import DisconnectStrategy, TaskGroup
from caravan.structs.ids import new_id, now_ns
from caravan.structs.job import Job, JobUI, ParameterizedJobConfig, PeriodicConfig
from caravan.structs.job_summary import JobChildrenSummary, JobSummary, TaskGroupSummary
from caravan.structs.metrics import AllocationMetric, NodeScoreMeta
from caravan.structs.node import (
    DrainStrategy,
    DriverInfo,
    Node,
    NodeEvent,
    NodeReservedResources,
    NodeResources,
)
from caravan.structs.policies import (
    EphemeralDisk,
    MigrateStrategy,
    ReschedulePolicy,
    RestartPolicy,
    UpdateStrategy,
)
from caravan.structs.resources import NetworkResource, Port, Resources
from caravan.structs.service_registration import ServiceRegistration
from caravan.structs.services import CheckRestart, Service, ServiceCheck
from caravan.structs.task import (
    LogConfig,
    Task,
    TaskArtifact,
    TaskLifecycle,
    Template,
)
from caravan.structs.validate import validate_job

__all__ = [
    "Affinity",
    "AllocDeploymentStatus",
    "AllocatedResources",
    "Allocation",
    "AllocationMetric",
    "ApiModel",
    "CheckRestart",
    "Constraint",
    "Deployment",
    "DeploymentState",
    "DesiredTransition",
    "DisconnectStrategy",
    "DrainStrategy",
    "DriverInfo",
    "EphemeralDisk",
    "Evaluation",
    "GoTime",
    "Job",
    "JobChildrenSummary",
    "JobStruct",
    "JobSummary",
    "JobUI",
    "LogConfig",
    "MigrateStrategy",
    "NetworkResource",
    "Node",
    "NodeEvent",
    "NodeReservedResources",
    "NodeResources",
    "NodeScoreMeta",
    "ParameterizedJobConfig",
    "PeriodicConfig",
    "Port",
    "RescheduleEvent",
    "ReschedulePolicy",
    "RescheduleTracker",
    "Resources",
    "RestartPolicy",
    "Service",
    "ServiceCheck",
    "ServiceRegistration",
    "Spread",
    "SpreadTarget",
    "Task",
    "TaskArtifact",
    "TaskEvent",
    "TaskGroup",
    "TaskGroupSummary",
    "TaskLifecycle",
    "TaskState",
    "Template",
    "UpdateStrategy",
    "api_name",
    "canonicalize",
    "diff_jobs",
    "format_diff",
    "format_duration",
    "new_id",
    "now_ns",
    "parse_duration",
    "validate_job",
]
