"""Deployments: list, read, allocations, and promote/fail/pause/allocation-health.

Nomad puts the action before the ID in write paths (``/v1/deployment/promote/:id``) and the
allocations view likewise (``/v1/deployment/allocations/:id``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from caravan.api.allocations import stub_renderer
from caravan.api.body import read_body
from caravan.api.context import SERVER
from caravan.api.errors import BadRequest, NotFound
from caravan.api.jobs import with_meta
from caravan.api.query import QueryOptions, blocking_query, select, write_response
from caravan.api.routes import RouteTable
from caravan.api.schemas import (
    DeploymentAllocHealthRequest,
    DeploymentFailRequest,
    DeploymentPauseRequest,
    DeploymentPromoteRequest,
    DeploymentUpdateResponse,
    normalize,
)
from caravan.state.tables import ALLOCS, DEPLOYMENTS
from caravan.structs import Deployment

routes = RouteTable("Deployments")


def _deployment_or_404(snap: Any, deployment_id: str) -> Any:
    deployment = snap.deployment_by_id(deployment_id)
    if deployment is None:
        raise NotFound("deployment not found")
    return deployment


def _check_id(body_id: str, path_id: str) -> None:
    if body_id and body_id != path_id:
        raise BadRequest("Deployment ID does not match")


@routes.get("/v1/deployments", response=list[Deployment], blocking=True, list_params=True)
async def list_deployments(request: web.Request) -> web.StreamResponse:
    """List deployments."""

    def build(snap: Any, opts: QueryOptions) -> Any:
        if opts.prefix:
            deployments = snap.deployments_by_prefix(opts.prefix, opts.namespace)
        else:
            deployments = snap.deployments(opts.namespace)
        return select(deployments, opts, lambda d: d.to_api(), token=lambda d: d.id)

    return await blocking_query(request, (DEPLOYMENTS,), build)


@routes.get("/v1/deployment/{deployment_id}", response=Deployment, blocking=True)
async def read_deployment(request: web.Request) -> web.StreamResponse:
    """Read one deployment."""
    deployment_id = request.match_info["deployment_id"]

    def build(snap: Any, opts: QueryOptions) -> Any:
        return _deployment_or_404(snap, deployment_id).to_api()

    return await blocking_query(request, (DEPLOYMENTS,), build)


@routes.get(
    "/v1/deployment/allocations/{deployment_id}",
    response={"type": "array", "items": {"$ref": "#/components/schemas/AllocationListStub"}},
    blocking=True,
)
async def deployment_allocations(request: web.Request) -> web.StreamResponse:
    """The deployment's allocations."""
    deployment_id = request.match_info["deployment_id"]
    render = stub_renderer(resources=False, task_states=True)

    def build(snap: Any, opts: QueryOptions) -> Any:
        return [render(a) for a in snap.allocs_by_deployment(deployment_id)]

    return await blocking_query(request, (ALLOCS,), build)


async def _answer(request: web.Request, result: dict[str, Any]) -> web.Response:
    return write_response(request, with_meta(request, normalize(DeploymentUpdateResponse, result)))


def _existing(request: web.Request) -> str:
    deployment_id = request.match_info["deployment_id"]
    _deployment_or_404(request.app[SERVER].state, deployment_id)
    return deployment_id


@routes.write(
    "/v1/deployment/promote/{deployment_id}",
    body=DeploymentPromoteRequest,
    response=DeploymentUpdateResponse,
)
async def promote_deployment(request: web.Request) -> web.StreamResponse:
    """Promote the canaries of every group (``All``) or of the named ``Groups``."""
    body = await read_body(request, DeploymentPromoteRequest)
    deployment_id = _existing(request)
    _check_id(body.deployment_id, deployment_id)
    if not body.all and not body.groups:
        raise BadRequest("must specify groups to promote, or set All")
    result = await request.app[SERVER].deployment_promote(
        deployment_id, all=body.all, groups=list(body.groups or ())
    )
    return await _answer(request, result)


@routes.write(
    "/v1/deployment/fail/{deployment_id}",
    body=DeploymentFailRequest,
    body_optional=True,
    response=DeploymentUpdateResponse,
)
async def fail_deployment(request: web.Request) -> web.StreamResponse:
    """Mark the deployment failed (rolling back when the job has auto-revert)."""
    body = await read_body(request, DeploymentFailRequest, optional=True)
    deployment_id = _existing(request)
    _check_id(body.deployment_id, deployment_id)
    return await _answer(request, await request.app[SERVER].deployment_fail(deployment_id))


@routes.write(
    "/v1/deployment/pause/{deployment_id}",
    body=DeploymentPauseRequest,
    response=DeploymentUpdateResponse,
)
async def pause_deployment(request: web.Request) -> web.StreamResponse:
    """Pause (``Pause: true``) or resume (``Pause: false``) the deployment."""
    body = await read_body(request, DeploymentPauseRequest)
    deployment_id = _existing(request)
    _check_id(body.deployment_id, deployment_id)
    result = await request.app[SERVER].deployment_pause(deployment_id, body.pause)
    return await _answer(request, result)


@routes.write(
    "/v1/deployment/allocation-health/{deployment_id}",
    body=DeploymentAllocHealthRequest,
    response=DeploymentUpdateResponse,
)
async def set_allocation_health(request: web.Request) -> web.StreamResponse:
    """Set the health of deployment allocations by hand (``health_check = "manual"``)."""
    body = await read_body(request, DeploymentAllocHealthRequest)
    deployment_id = _existing(request)
    _check_id(body.deployment_id, deployment_id)
    healthy = list(body.healthy_allocation_ids or ())
    unhealthy = list(body.unhealthy_allocation_ids or ())
    if not healthy and not unhealthy:
        raise BadRequest("must specify at least one healthy/unhealthy allocation ID")
    result = await request.app[SERVER].deployment_alloc_health(deployment_id, healthy, unhealthy)
    return await _answer(request, result)
