"""Allocations: list, read, stop and services (``/v1/allocations``, ``/v1/allocation/:id``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from caravan.api.body import read_json
from caravan.api.context import FRAGMENTS, SERVER
from caravan.api.errors import NotFound
from caravan.api.fragments import Fragments
from caravan.api.query import (
    BY_ID,
    QueryOptions,
    blocking_query,
    query_bool,
    select,
    write_response,
)
from caravan.api.routes import RouteTable
from caravan.api.schemas import AllocStopResponse, normalize
from caravan.state.tables import ALLOCS, SERVICES
from caravan.structs import Allocation, ServiceRegistration

routes = RouteTable("Allocations")

_STUBS = {"type": "array", "items": {"$ref": "#/components/schemas/AllocationListStub"}}


def alloc_or_404(snap: Any, alloc_id: str) -> Any:
    """The allocation, or 404 ``alloc not found``."""
    alloc = snap.alloc_by_id(alloc_id)
    if alloc is None:
        raise NotFound("alloc not found")
    return alloc


def stub_renderer(resources: bool, task_states: bool) -> Any:
    """``AllocationListStub`` rendering with Nomad's ``resources`` and ``task_states`` switches."""

    def render(alloc: Any) -> dict[str, Any]:
        stub = alloc.stub()
        if not resources:
            stub["AllocatedResources"] = None
        if not task_states:
            stub["TaskStates"] = None
        return stub

    return render


@routes.get(
    "/v1/allocations",
    response=_STUBS,
    params=("resources", "task_states"),
    blocking=True,
    list_params=True,
)
async def list_allocations(request: web.Request) -> web.StreamResponse:
    """List allocations (``resources=true`` adds resources, ``task_states=false`` drops states)."""
    variant = (query_bool(request, "resources"), query_bool(request, "task_states", True))
    stub = stub_renderer(*variant)
    fragments = request.app[FRAGMENTS]

    def render_all(allocs: list[Any]) -> Fragments:
        return fragments.encode_all("alloc", allocs, stub, variant)

    def build(snap: Any, opts: QueryOptions) -> Any:
        if opts.prefix:
            allocs = snap.allocs_by_prefix(opts.prefix, opts.namespace)
        else:
            allocs = fragments.listing(
                ("alloc", opts.namespace),
                snap.data.tables[ALLOCS],
                lambda: snap.allocs(opts.namespace),
            )
        return select(allocs, opts, None, token=BY_ID, render_all=render_all)

    return await blocking_query(request, (ALLOCS,), build)


@routes.get("/v1/allocation/{alloc_id}", response=Allocation, blocking=True)
async def read_allocation(request: web.Request) -> web.StreamResponse:
    """Read one allocation (with its job); the full ID is required."""
    alloc_id = request.match_info["alloc_id"]

    def build(snap: Any, opts: QueryOptions) -> Any:
        return alloc_or_404(snap, alloc_id).to_api()

    return await blocking_query(request, (ALLOCS,), build)


@routes.write(
    "/v1/allocation/{alloc_id}/stop", response=AllocStopResponse, params=("no_shutdown_delay",)
)
async def stop_allocation(request: web.Request) -> web.StreamResponse:
    """Stop an allocation; the scheduler replaces it (``EvalID`` is the evaluation created)."""
    await read_json(request, optional=True)
    alloc_id = request.match_info["alloc_id"]
    alloc_or_404(request.app[SERVER].state, alloc_id)
    result = await request.app[SERVER].alloc_stop(alloc_id)
    return write_response(request, normalize(AllocStopResponse, result))


@routes.get("/v1/allocation/{alloc_id}/services", response=list[ServiceRegistration], blocking=True)
async def allocation_services(request: web.Request) -> web.StreamResponse:
    """The service instances the allocation registered."""
    alloc_id = request.match_info["alloc_id"]

    def build(snap: Any, opts: QueryOptions) -> Any:
        return [r.to_api() for r in snap.service_registrations_by_alloc(alloc_id)]

    return await blocking_query(request, (SERVICES,), build)
