"""Per-job views: versions, allocations, evaluations, deployments, summary, scale status and
services (``GET /v1/job/:id/<view>``). All are blocking queries."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from aiohttp import web

from caravan.api.jobs import job_id_of, job_or_404
from caravan.api.query import QueryOptions, blocking_query, query_bool, query_int
from caravan.api.routes import RouteTable
from caravan.api.schemas import JobScaleStatus, JobVersionsResponse, normalize
from caravan.state.tables import (
    ALLOCS,
    DEPLOYMENTS,
    EVALS,
    JOB_SUMMARIES,
    JOB_VERSIONS,
    JOBS,
    SERVICES,
)
from caravan.structs import (
    Deployment,
    Evaluation,
    JobSummary,
    ServiceRegistration,
    diff_jobs,
)

routes = RouteTable("Jobs")

_ID = "/v1/job/{job_id:.+}"
_STUBS = {"type": "array", "items": {"$ref": "#/components/schemas/AllocationListStub"}}


@routes.get(
    _ID + "/versions",
    response=JobVersionsResponse,
    params=("diffs", "diff_version"),
    blocking=True,
)
async def job_versions(request: web.Request) -> web.StreamResponse:
    """Every kept version of a job, newest first, with diffs between them on ``diffs=true``."""
    job_id = job_id_of(request)
    want_diffs = query_bool(request, "diffs")
    diff_version = query_int(request, "diff_version", -1) if "diff_version" in request.query else -1

    def build(snap: Any, opts: QueryOptions) -> Any:
        versions = snap.job_versions(opts.single_namespace, job_id)
        if not versions:
            job_or_404(snap, opts.single_namespace, job_id)
        diffs = None
        if want_diffs or diff_version >= 0:
            base = snap.job_by_version(opts.single_namespace, job_id, diff_version)
            if diff_version >= 0:
                diffs = [diff_jobs(base, v) for v in versions if v.version != diff_version]
            else:
                diffs = [diff_jobs(old, new) for new, old in pairwise(versions)]
        index = snap.max_index((JOBS, JOB_VERSIONS))
        return normalize(
            JobVersionsResponse,
            {"Versions": [v.to_api() for v in versions], "Diffs": diffs, "Index": index},
        )

    return await blocking_query(request, (JOBS, JOB_VERSIONS), build)


@routes.get(_ID + "/allocations", response=_STUBS, params=("all",), blocking=True)
async def job_allocations(request: web.Request) -> web.StreamResponse:
    """The job's allocations (``all=true`` adds those of an earlier job with the same ID)."""
    job_id = job_id_of(request)
    include_all = query_bool(request, "all")

    def build(snap: Any, opts: QueryOptions) -> Any:
        allocs = snap.allocs_by_job(opts.single_namespace, job_id, any_create_index=include_all)
        return [a.stub() for a in allocs]

    return await blocking_query(request, (ALLOCS,), build)


@routes.get(_ID + "/evaluations", response=list[Evaluation], blocking=True)
async def job_evaluations(request: web.Request) -> web.StreamResponse:
    """The job's evaluations."""
    job_id = job_id_of(request)

    def build(snap: Any, opts: QueryOptions) -> Any:
        return [e.to_api() for e in snap.evals_by_job(opts.single_namespace, job_id)]

    return await blocking_query(request, (EVALS,), build)


@routes.get(_ID + "/deployments", response=list[Deployment], params=("all",), blocking=True)
async def job_deployments(request: web.Request) -> web.StreamResponse:
    """The job's deployments, newest first (``all=true`` adds those of an earlier job)."""
    job_id = job_id_of(request)
    include_all = query_bool(request, "all")

    def build(snap: Any, opts: QueryOptions) -> Any:
        deployments = snap.deployments_by_job(opts.single_namespace, job_id)
        job = snap.job_by_id(opts.single_namespace, job_id)
        if not include_all and job is not None:
            deployments = [d for d in deployments if d.job_create_index == job.create_index]
        deployments.sort(key=lambda d: d.create_index, reverse=True)
        return [d.to_api() for d in deployments]

    return await blocking_query(request, (DEPLOYMENTS,), build)


@routes.get(_ID + "/deployment", response=Deployment | None, blocking=True)
async def job_latest_deployment(request: web.Request) -> web.StreamResponse:
    """The job's most recent deployment, or ``null``."""
    job_id = job_id_of(request)

    def build(snap: Any, opts: QueryOptions) -> Any:
        latest = snap.latest_deployment_by_job(opts.single_namespace, job_id)
        return None if latest is None else latest.to_api()

    return await blocking_query(request, (DEPLOYMENTS,), build)


@routes.get(_ID + "/summary", response=JobSummary, blocking=True)
async def job_summary(request: web.Request) -> web.StreamResponse:
    """The job's per-group allocation counts."""
    job_id = job_id_of(request)

    def build(snap: Any, opts: QueryOptions) -> Any:
        summary = snap.job_summary(opts.single_namespace, job_id)
        if summary is None:
            job_or_404(snap, opts.single_namespace, job_id)
        return summary.to_api()

    return await blocking_query(request, (JOB_SUMMARIES,), build)


@routes.get(_ID + "/scale", response=JobScaleStatus, blocking=True)
async def job_scale_status(request: web.Request) -> web.StreamResponse:
    """Desired, placed, running and healthy counts of each group."""
    job_id = job_id_of(request)

    def build(snap: Any, opts: QueryOptions) -> Any:
        job = job_or_404(snap, opts.single_namespace, job_id)
        summary = snap.job_summary(job.namespace, job.id)
        deployment = snap.latest_deployment_by_job(job.namespace, job.id)
        groups: dict[str, Any] = {}
        for group in job.task_groups or ():
            status: dict[str, Any] = {"Desired": group.count or 0}
            state = (deployment.task_groups or {}).get(group.name) if deployment else None
            if state is not None:
                status.update(
                    Placed=state.placed_allocs,
                    Healthy=state.healthy_allocs,
                    Unhealthy=state.unhealthy_allocs,
                )
            counts = (summary.summary or {}).get(group.name) if summary else None
            if counts is not None:
                status["Running"] = counts.running
            groups[group.name] = status
        return normalize(
            JobScaleStatus,
            {
                "JobID": job.id,
                "Namespace": job.namespace,
                "JobCreateIndex": job.create_index,
                "JobModifyIndex": job.job_modify_index,
                "JobStopped": job.stop,
                "TaskGroups": groups,
            },
        )

    return await blocking_query(request, (JOBS, JOB_SUMMARIES, DEPLOYMENTS), build)


@routes.get(_ID + "/services", response=list[ServiceRegistration], blocking=True)
async def job_services(request: web.Request) -> web.StreamResponse:
    """The service instances registered by the job's allocations."""
    job_id = job_id_of(request)

    def build(snap: Any, opts: QueryOptions) -> Any:
        regs = snap.service_registrations_by_job(opts.single_namespace, job_id)
        return [r.to_api() for r in regs]

    return await blocking_query(request, (SERVICES,), build)
