"""Jobs: list, register, parse, read and stop (``/v1/jobs``, ``/v1/jobs/parse``, ``/v1/job/:id``).

The per-job views (``/versions``, ``/allocations``...) are in :mod:`caravan.api.job_reads` and
the per-job actions (``/plan``, ``/revert``...) in :mod:`caravan.api.job_actions`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from caravan.api.body import read_body
from caravan.api.context import AGENT, FRAGMENTS, SERVER
from caravan.api.errors import BadRequest, NotFound
from caravan.api.query import (
    QueryOptions,
    blocking_query,
    query_bool,
    select,
    write_namespace,
    write_response,
)
from caravan.api.routes import RouteTable
from caravan.api.schemas import JobRegisterRequest, JobRegisterResponse, JobsParseRequest, normalize
from caravan.jobspec import job_to_api_dict
from caravan.state.tables import JOB_SUMMARIES, JOBS
from caravan.structs import Job, canonicalize

routes = RouteTable("Jobs")

JOB_PATH = "/v1/job/{job_id:.+}"


def job_id_of(request: web.Request) -> str:
    """The job ID in the path (IDs may contain ``/``, as dispatched children's do)."""
    return request.match_info["job_id"]


def job_or_404(snap: Any, namespace: str, job_id: str) -> Any:
    """The job, or 404 ``job not found``."""
    job = snap.job_by_id(namespace, job_id)
    if job is None:
        raise NotFound("job not found")
    return job


def with_meta(request: web.Request, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the ``KnownLeader``/``LastContact`` fields Nomad embeds in write answers."""
    server = request.app[SERVER]
    return {**data, "KnownLeader": bool(server.known_leader), "LastContact": 0}


@routes.get(
    "/v1/jobs",
    response={"type": "array", "items": {"$ref": "#/components/schemas/JobListStub"}},
    params=("meta",),
    blocking=True,
    list_params=True,
)
async def list_jobs(request: web.Request) -> web.StreamResponse:
    """List jobs (``JobListStub``s with their summaries)."""
    with_job_meta = query_bool(request, "meta")
    fragments = request.app[FRAGMENTS]

    def build(snap: Any, opts: QueryOptions) -> Any:
        if opts.prefix:
            jobs = snap.jobs_by_prefix(opts.namespace, opts.prefix)
        else:
            table = snap.data.tables[JOBS]
            jobs = fragments.listing(
                ("job", opts.namespace), table, lambda: snap.jobs(opts.namespace)
            )

        def stub(job: Any, summary: Any) -> dict[str, Any]:
            data = job.stub(summary.to_api() if summary is not None else None)
            if not with_job_meta:
                data["Meta"] = None
            return data

        def render(job: Any) -> bytes:
            summary = snap.job_summary(job.namespace, job.id)
            return fragments.encode(
                "job",
                job,
                lambda j: stub(j, summary),
                variant=(job.namespace, with_job_meta),
                deps=(summary,),
            )

        return select(jobs, opts, render, token=lambda j: j.id)

    return await blocking_query(request, (JOBS, JOB_SUMMARIES), build)


async def _register(request: web.Request, path_job_id: str | None) -> web.Response:
    body = await read_body(request, JobRegisterRequest)
    if body.job is None:
        raise BadRequest("Job must be specified")
    job = body.job
    if path_job_id is not None and job.id != path_job_id:
        raise BadRequest("Job ID does not match name")
    updates: dict[str, Any] = {}
    if job.namespace is None:
        updates["namespace"] = write_namespace(request)
    if job.region is None:
        updates["region"] = request.app[AGENT].region
    job = canonicalize(job.model_copy(update=updates) if updates else job)
    result = await request.app[SERVER].job_register(
        job,
        enforce_index=body.job_modify_index if body.enforce_index else None,
        preserve_counts=body.preserve_counts,
    )
    return write_response(request, with_meta(request, normalize(JobRegisterResponse, result)))


@routes.write("/v1/jobs", body=JobRegisterRequest, response=JobRegisterResponse)
async def register_job(request: web.Request) -> web.StreamResponse:
    """Register a new job or update an existing one."""
    return await _register(request, None)


@routes.write("/v1/jobs/parse", body=JobsParseRequest, response=Job)
async def parse_job(request: web.Request) -> web.StreamResponse:
    """Parse a job file (HCL2 or JSON) into job JSON, optionally canonicalised."""
    body = await read_body(request, JobsParseRequest)
    if not body.job_hcl.strip():
        raise BadRequest("Job spec is empty")
    raw = job_to_api_dict(body.job_hcl, "input.hcl", variables_text=body.variables or None)
    job = Job.from_api(raw)
    if body.canonicalize:
        job = canonicalize(job)
    return write_response(request, job.to_api())


@routes.get(JOB_PATH, response=Job, blocking=True)
async def read_job(request: web.Request) -> web.StreamResponse:
    """Read a job (the current version)."""
    job_id = job_id_of(request)

    def build(snap: Any, opts: QueryOptions) -> Any:
        return job_or_404(snap, opts.single_namespace, job_id).to_api()

    return await blocking_query(request, (JOBS,), build)


@routes.write(JOB_PATH, body=JobRegisterRequest, response=JobRegisterResponse)
async def update_job(request: web.Request) -> web.StreamResponse:
    """Register or update the job named in the path (its ``ID`` must match)."""
    return await _register(request, job_id_of(request))


@routes.delete(
    JOB_PATH,
    response=JobRegisterResponse,
    params=("purge", "global", "eval_priority", "no_shutdown_delay"),
)
async def stop_job(request: web.Request) -> web.StreamResponse:
    """Stop a job (``purge=true`` deletes it at once)."""
    namespace = write_namespace(request)
    job_id = job_id_of(request)
    purge = query_bool(request, "purge")
    job_or_404(request.app[SERVER].state, namespace, job_id)
    result = await request.app[SERVER].job_deregister(namespace, job_id, purge=purge)
    return write_response(request, with_meta(request, normalize(JobRegisterResponse, result)))
