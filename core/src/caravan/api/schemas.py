"""Request and response envelopes of the API, as pydantic models in Nomad's JSON names.

Request models decode bodies (keys matched ignoring case, unknown keys ignored, as Go does);
response models normalise what the server's endpoints return into Nomad's exact shape. Both
feed the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caravan.structs import ApiModel, Job


class JobRegisterRequest(ApiModel):
    """Body of ``PUT /v1/jobs`` and ``PUT /v1/job/:id``."""

    job: Job | None = None
    enforce_index: bool = False
    job_modify_index: int = 0
    policy_override: bool = False
    preserve_counts: bool = False
    preserve_resources: bool = False
    eval_priority: int = 0
    submission: dict[str, Any] | None = None


class JobsParseRequest(ApiModel):
    """Body of ``PUT /v1/jobs/parse``: job file text, variables file text, canonicalise?"""

    job_hcl: str = Field(default="", alias="JobHCL")
    variables: str | None = None
    canonicalize: bool = False
    hclv1: bool = False


class JobPlanRequest(ApiModel):
    """Body of ``PUT /v1/job/:id/plan``."""

    job: Job | None = None
    diff: bool = False
    policy_override: bool = False


class JobRevertRequest(ApiModel):
    """Body of ``PUT /v1/job/:id/revert``."""

    job_id: str = ""
    job_version: int = 0
    enforce_prior_version: int | None = None


class JobStabilityRequest(ApiModel):
    """Body of ``PUT /v1/job/:id/stable``."""

    job_id: str = ""
    job_version: int = 0
    stable: bool = False


class EvalOptions(ApiModel):
    force_reschedule: bool = False


class JobEvaluateRequest(ApiModel):
    """Body of ``PUT /v1/job/:id/evaluate`` (optional)."""

    job_id: str = ""
    eval_options: EvalOptions | None = None


class ScalingRequest(ApiModel):
    """Body of ``PUT /v1/job/:id/scale``."""

    count: int | None = None
    target: dict[str, str] | None = None
    message: str = ""
    error: bool = False
    meta: dict[str, Any] | None = None
    policy_override: bool = False
    job_modify_index: int = 0
    enforce_index: bool = False


class QueryMeta(ApiModel):
    """The query metadata some Nomad responses embed in their body."""

    index: int = 0
    last_contact: int = 0
    known_leader: bool = False


class JobRegisterResponse(QueryMeta):
    """Answer of register, deregister, revert, evaluate and scale."""

    eval_id: str = ""
    eval_create_index: int = 0
    job_modify_index: int = 0
    warnings: str = ""


class JobDispatchRequest(ApiModel):
    """Body of ``PUT /v1/job/:id/dispatch``: ``Payload`` is base64, as Go encodes bytes."""

    job_id: str = ""
    payload: str | None = None
    meta: dict[str, str] | None = None
    id_prefix_template: str = ""


class JobDispatchResponse(QueryMeta):
    """Answer of a dispatch: the child job's ID and its evaluation."""

    dispatched_job_id: str = Field(default="", alias="DispatchedJobID")
    eval_id: str = ""
    eval_create_index: int = 0
    job_create_index: int = 0


class JobStabilityResponse(QueryMeta):
    job_modify_index: int = 0


class DesiredUpdates(ApiModel):
    """How a plan would change one task group's allocations."""

    ignore: int = 0
    place: int = 0
    migrate: int = 0
    stop: int = 0
    in_place_update: int = 0
    destructive_update: int = 0
    canary: int = 0
    preemptions: int = 0
    disconnect: int = 0
    reconnect: int = 0
    reschedule_now: int = 0
    reschedule_later: int = 0


class PlanAnnotations(ApiModel):
    desired_tg_updates: dict[str, DesiredUpdates] | None = Field(
        default=None, alias="DesiredTGUpdates"
    )
    preempted_allocs: list[dict[str, Any]] | None = None


class JobPlanResponse(QueryMeta):
    """Answer of ``PUT /v1/job/:id/plan``."""

    annotations: PlanAnnotations | None = None
    failed_tg_allocs: dict[str, Any] | None = Field(default=None, alias="FailedTGAllocs")
    job_modify_index: int = 0
    created_evals: list[dict[str, Any]] | None = None
    diff: dict[str, Any] | None = None
    next_periodic_launch: str = "0001-01-01T00:00:00Z"
    warnings: str = ""


class JobVersionsResponse(QueryMeta):
    """Answer of ``GET /v1/job/:id/versions``: newest version first."""

    versions: list[Job] = Field(default_factory=list)
    diffs: list[dict[str, Any]] | None = None


class TaskGroupScaleStatus(ApiModel):
    desired: int = 0
    placed: int = 0
    running: int = 0
    healthy: int = 0
    unhealthy: int = 0
    events: list[dict[str, Any]] | None = None


class JobScaleStatus(ApiModel):
    """Answer of ``GET /v1/job/:id/scale``."""

    job_id: str = ""
    namespace: str = ""
    job_create_index: int = 0
    job_modify_index: int = 0
    job_stopped: bool = False
    task_groups: dict[str, TaskGroupScaleStatus] = Field(default_factory=dict)


class AllocStopResponse(ApiModel):
    eval_id: str = ""
    index: int = 0


class DeploymentUpdateResponse(QueryMeta):
    """Answer of the deployment writes."""

    eval_id: str = ""
    eval_create_index: int = 0
    deployment_modify_index: int = 0
    reverted_job_version: int | None = None


class DeploymentPromoteRequest(ApiModel):
    deployment_id: str = ""
    all: bool = False
    groups: list[str] | None = None


class DeploymentPauseRequest(ApiModel):
    deployment_id: str = ""
    pause: bool = False


class DeploymentFailRequest(ApiModel):
    deployment_id: str = ""


class DeploymentAllocHealthRequest(ApiModel):
    deployment_id: str = ""
    healthy_allocation_ids: list[str] | None = Field(default=None, alias="HealthyAllocationIDs")
    unhealthy_allocation_ids: list[str] | None = Field(default=None, alias="UnhealthyAllocationIDs")


class NodeUpdateResponse(QueryMeta):
    """Answer of the node writes."""

    eval_ids: list[str] | None = Field(default=None, alias="EvalIDs")
    eval_create_index: int = 0
    node_modify_index: int = 0


class NodeDrainRequest(ApiModel):
    node_id: str = ""
    drain_spec: dict[str, Any] | None = None
    mark_eligible: bool = False
    meta: dict[str, str] | None = None


class NodeEligibilityRequest(ApiModel):
    node_id: str = ""
    eligibility: str = ""


class AllocRestartRequest(ApiModel):
    task_name: str = ""
    all_tasks: bool = False


class AllocSignalRequest(ApiModel):
    signal: str = ""
    task: str = ""


def normalize(model: type[ApiModel], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` in ``model``'s exact shape: every field present, unknown keys dropped."""
    return model.model_validate(data).model_dump(by_alias=True, mode="json")
