"""Nodes: list, read, allocations, and evaluate/drain/eligibility/purge (``/v1/node/:id``)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from caravan.api.body import read_body, read_json
from caravan.api.context import FRAGMENTS, SERVER
from caravan.api.errors import BadRequest, NotFound
from caravan.api.jobs import with_meta
from caravan.api.query import (
    BY_ID,
    QueryOptions,
    blocking_query,
    query_bool,
    select,
    write_response,
)
from caravan.api.routes import RouteTable
from caravan.api.schemas import (
    NodeDrainRequest,
    NodeEligibilityRequest,
    NodeUpdateResponse,
    normalize,
)
from caravan.state.tables import ALLOCS, NODES
from caravan.structs import Allocation, Node

routes = RouteTable("Nodes")

_ELIGIBILITIES = ("eligible", "ineligible")


def _node_or_404(snap: Any, node_id: str) -> Any:
    node = snap.node_by_id(node_id)
    if node is None:
        raise NotFound("node not found")
    return node


def _sanitized(node: Any) -> dict[str, Any]:
    # The secret authenticates the client to the servers; the API never shows it.
    data = node.to_api()
    data["SecretID"] = ""
    return data


@routes.get(
    "/v1/nodes",
    response={"type": "array", "items": {"$ref": "#/components/schemas/NodeListStub"}},
    params=("resources", "os"),
    blocking=True,
    list_params=True,
)
async def list_nodes(request: web.Request) -> web.StreamResponse:
    """List nodes (``resources=true`` adds resources, ``os=true`` the ``os.*`` attributes)."""
    resources = query_bool(request, "resources")
    with_os = query_bool(request, "os")

    fragments = request.app[FRAGMENTS]

    def stub_of(node: Any) -> dict[str, Any]:
        stub = node.stub()
        if not resources:
            stub["NodeResources"] = None
            stub["ReservedResources"] = None
        if with_os:
            attrs = node.attributes or {}
            stub["Attributes"] = {k: v for k, v in attrs.items() if k.startswith("os.")}
        return stub

    def render_all(nodes: list[Any]) -> Any:
        return fragments.encode_all("node", nodes, stub_of, (resources, with_os))

    def build(snap: Any, opts: QueryOptions) -> Any:
        nodes = snap.nodes_by_prefix(opts.prefix) if opts.prefix else snap.nodes()
        return select(nodes, opts, None, token=BY_ID, full=_sanitized, render_all=render_all)

    return await blocking_query(request, (NODES,), build)


@routes.get("/v1/node/{node_id}", response=Node, blocking=True)
async def read_node(request: web.Request) -> web.StreamResponse:
    """Read one node."""
    node_id = request.match_info["node_id"]

    def build(snap: Any, opts: QueryOptions) -> Any:
        return _sanitized(_node_or_404(snap, node_id))

    return await blocking_query(request, (NODES,), build)


@routes.get("/v1/node/{node_id}/allocations", response=list[Allocation], blocking=True)
async def node_allocations(request: web.Request) -> web.StreamResponse:
    """The allocations placed on the node (full objects)."""
    node_id = request.match_info["node_id"]

    def build(snap: Any, opts: QueryOptions) -> Any:
        return [a.to_api() for a in snap.allocs_by_node(node_id)]

    return await blocking_query(request, (ALLOCS,), build)


def _existing(request: web.Request) -> str:
    node_id = request.match_info["node_id"]
    _node_or_404(request.app[SERVER].state, node_id)
    return node_id


async def _answer(request: web.Request, result: dict[str, Any]) -> web.Response:
    return write_response(request, with_meta(request, normalize(NodeUpdateResponse, result)))


@routes.write("/v1/node/{node_id}/evaluate", response=NodeUpdateResponse)
async def evaluate_node(request: web.Request) -> web.StreamResponse:
    """Create evaluations for every job with allocations on the node."""
    await read_json(request, optional=True)
    node_id = _existing(request)
    return await _answer(request, await request.app[SERVER].node_evaluate(node_id))


@routes.write("/v1/node/{node_id}/drain", body=NodeDrainRequest, response=NodeUpdateResponse)
async def drain_node(request: web.Request) -> web.StreamResponse:
    """Start (``DrainSpec``) or cancel (``DrainSpec: null``) draining the node."""
    body = await read_body(request, NodeDrainRequest)
    node_id = _existing(request)
    if body.node_id and body.node_id != node_id:
        raise BadRequest("Node ID does not match")
    result = await request.app[SERVER].node_drain(node_id, body.drain_spec, body.mark_eligible)
    return await _answer(request, result)


@routes.write(
    "/v1/node/{node_id}/eligibility", body=NodeEligibilityRequest, response=NodeUpdateResponse
)
async def set_node_eligibility(request: web.Request) -> web.StreamResponse:
    """Mark the node eligible or ineligible for new placements."""
    body = await read_body(request, NodeEligibilityRequest)
    node_id = _existing(request)
    if body.eligibility not in _ELIGIBILITIES:
        raise BadRequest(f"invalid scheduling eligibility {body.eligibility!r}")
    result = await request.app[SERVER].node_eligibility(node_id, body.eligibility)
    return await _answer(request, result)


@routes.write("/v1/node/{node_id}/purge", response=NodeUpdateResponse)
async def purge_node(request: web.Request) -> web.StreamResponse:
    """Remove the node from the cluster state."""
    await read_json(request, optional=True)
    node_id = _existing(request)
    return await _answer(request, await request.app[SERVER].node_purge(node_id))
