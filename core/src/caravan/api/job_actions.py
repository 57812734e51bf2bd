"""Per-job actions: plan, evaluate, revert, stable, scale, dispatch (``PUT /v1/job/:id/<action>``).

Each checks its body at the HTTP layer (path/body ID agreement, required fields) and calls the
server endpoint of the same name; a rejected request changes no state.
"""

from __future__ import annotations

from aiohttp import web

from caravan.api.body import read_body
from caravan.api.context import AGENT, SERVER
from caravan.api.errors import ApiError, BadRequest
from caravan.api.jobs import job_id_of, job_or_404, with_meta
from caravan.api.query import write_namespace, write_response
from caravan.api.routes import RouteTable
from caravan.api.schemas import (
    JobDispatchRequest,
    JobDispatchResponse,
    JobEvaluateRequest,
    JobPlanRequest,
    JobPlanResponse,
    JobRegisterResponse,
    JobRevertRequest,
    JobStabilityRequest,
    JobStabilityResponse,
    ScalingRequest,
    normalize,
)
from caravan.structs import canonicalize

routes = RouteTable("Jobs")

_ID = "/v1/job/{job_id:.+}"


@routes.write(_ID + "/plan", body=JobPlanRequest, response=JobPlanResponse)
async def plan_job(request: web.Request) -> web.StreamResponse:
    """Dry-run a job update: what the scheduler would do, and the diff against the current job."""
    body = await read_body(request, JobPlanRequest)
    if body.job is None:
        raise BadRequest("Job must be specified")
    if body.job.id != job_id_of(request):
        raise BadRequest("Job ID does not match")
    updates = {}
    if body.job.namespace is None:
        updates["namespace"] = write_namespace(request)
    if body.job.region is None:
        updates["region"] = request.app[AGENT].region
    job = canonicalize(body.job.model_copy(update=updates))
    result = await request.app[SERVER].job_plan(job, diff=body.diff)
    return write_response(request, with_meta(request, normalize(JobPlanResponse, result)))


@routes.write(
    _ID + "/evaluate", body=JobEvaluateRequest, body_optional=True, response=JobRegisterResponse
)
async def evaluate_job(request: web.Request) -> web.StreamResponse:
    """Create a new evaluation of the job (the body is optional)."""
    await read_body(request, JobEvaluateRequest, optional=True)
    namespace, job_id = write_namespace(request), job_id_of(request)
    job_or_404(request.app[SERVER].state, namespace, job_id)
    result = await request.app[SERVER].job_evaluate(namespace, job_id)
    return write_response(request, with_meta(request, normalize(JobRegisterResponse, result)))


@routes.write(_ID + "/revert", body=JobRevertRequest, response=JobRegisterResponse)
async def revert_job(request: web.Request) -> web.StreamResponse:
    """Revert the job to an earlier version (a new version with that spec)."""
    body = await read_body(request, JobRevertRequest)
    job_id = job_id_of(request)
    if body.job_id and body.job_id != job_id:
        raise BadRequest("Job ID does not match")
    namespace = write_namespace(request)
    job_or_404(request.app[SERVER].state, namespace, job_id)
    result = await request.app[SERVER].job_revert(
        namespace, job_id, body.job_version, enforce_prior_version=body.enforce_prior_version
    )
    return write_response(request, with_meta(request, normalize(JobRegisterResponse, result)))


@routes.write(_ID + "/stable", body=JobStabilityRequest, response=JobStabilityResponse)
async def set_job_stability(request: web.Request) -> web.StreamResponse:
    """Mark a job version stable (or not)."""
    body = await read_body(request, JobStabilityRequest)
    job_id = job_id_of(request)
    if body.job_id and body.job_id != job_id:
        raise BadRequest("Job ID does not match")
    namespace = write_namespace(request)
    job_or_404(request.app[SERVER].state, namespace, job_id)
    result = await request.app[SERVER].job_stable(namespace, job_id, body.job_version, body.stable)
    return write_response(request, with_meta(request, normalize(JobStabilityResponse, result)))


@routes.write(_ID + "/scale", body=ScalingRequest, response=JobRegisterResponse)
async def scale_job(request: web.Request) -> web.StreamResponse:
    """Set a task group's count (``Target.Group``)."""
    body = await read_body(request, ScalingRequest)
    group = (body.target or {}).get("Group") or next(
        (v for k, v in (body.target or {}).items() if k.lower() == "group"), ""
    )
    if not group:
        raise BadRequest("missing task group name for scaling action")
    if body.count is None:
        raise BadRequest("Count must be specified to scale a task group")
    if body.count < 0:
        raise BadRequest(f"Count must not be negative (got {body.count})")
    namespace, job_id = write_namespace(request), job_id_of(request)
    job = job_or_404(request.app[SERVER].state, namespace, job_id)
    if body.enforce_index and body.job_modify_index != job.job_modify_index:
        raise ApiError(
            f"Enforcing job modify index {body.job_modify_index}: job exists with "
            f"conflicting job modify index: {job.job_modify_index}",
            500,
        )
    if job.group(group) is None:
        raise BadRequest(f"task group {group!r} specified for scaling does not exist in job")
    result = await request.app[SERVER].job_scale(namespace, job_id, group, body.count, body.message)
    return write_response(request, with_meta(request, normalize(JobRegisterResponse, result)))


@routes.write(_ID + "/dispatch", body=JobDispatchRequest, response=JobDispatchResponse)
async def dispatch_job(request: web.Request) -> web.StreamResponse:
    """Dispatch a parameterized job: a child job with the payload and meta, evaluated."""
    body = await read_body(request, JobDispatchRequest)
    job_id = job_id_of(request)
    if body.job_id and body.job_id != job_id:
        raise BadRequest("Job ID does not match")
    namespace = write_namespace(request)
    job_or_404(request.app[SERVER].state, namespace, job_id)
    result = await request.app[SERVER].job_dispatch(
        namespace, job_id, body.payload, body.meta, body.id_prefix_template
    )
    return write_response(request, with_meta(request, normalize(JobDispatchResponse, result)))
