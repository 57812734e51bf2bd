"""The Consul-compatible HTTP surface: Consul's agent, catalog, health and status endpoints
over caravan's service catalog, so Consul clients (python-consul2, the npm ``consul`` package,
Prometheus' ``consul_sd``, Fabio, consul-template) work against a caravan agent.

Reads come from the server's state (one snapshot per answer, blocking queries supported);
writes go through the server (Raft). Registrations made here are caravan
``ServiceRegistration`` objects in namespace ``default`` without an allocation, owned by the
agent's node; their checks are run by :class:`~caravan.consul.local.LocalAgent`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from caravan.api.errors import BadRequest, status_of
from caravan.api.query import query_bool
from caravan.consul.local import LocalAgent
from caravan.consul.query import (
    DATACENTER,
    SERVER,
    check_datacenter,
    consul_query,
    json_response,
    passing_only,
    tag_filter,
)
from caravan.consul.registration import CHECK_STATUSES, normalize, parse_service
from caravan.consul.render import ConsulNode, Renderer, local_node_id
from caravan.errors import CaravanError
from caravan.state.tables import NODES, SERVICES
from caravan.version import caravan_version

log = logging.getLogger(__name__)

LOCAL: web.AppKey[LocalAgent] = web.AppKey("caravan.consul.local", LocalAgent)
RENDER: web.AppKey[Renderer] = web.AppKey("caravan.consul.render", Renderer)
#: The port Consul (and so caravan's Consul surface) listens on by default.
DEFAULT_PORT = 8500
#: Seconds a stopping server gives open requests before cancelling them.
SHUTDOWN_GRACE = 2.0
_ALL = (SERVICES, NODES)
_STATES = ("any", *CHECK_STATUSES)

routes = web.RouteTableDef()


@web.middleware
async def consul_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Errors as Consul sends them: a status code and a plain-text message."""
    try:
        return await handler(request)
    except CaravanError as err:
        return web.Response(status=status_of(err), text=str(err), content_type="text/plain")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        text = "Method not allowed" if exc.status == 405 else exc.reason
        return web.Response(status=exc.status, text=text, content_type="text/plain")


def _registrations(snap: Any, request: web.Request) -> list[Any]:
    namespace = request.query.get("ns") or None
    return sorted(snap.service_registrations(namespace), key=lambda r: (r.service_name, r.id))


# ---------------------------------------------------------------------- agent


@routes.get("/v1/agent/self")
async def agent_self(request: web.Request) -> web.Response:
    """The agent's identity: ``Config`` (Datacenter, NodeName, NodeID, Version) and ``Member``."""
    node = request.app[RENDER].node
    return json_response(
        request,
        {
            "Config": {
                "Datacenter": node.datacenter,
                "NodeName": node.name,
                "NodeID": node.id,
                "Revision": "",
                "Server": True,
                "Version": caravan_version(),
            },
            "Member": {
                "Name": node.name,
                "Addr": node.address,
                "Port": 8301,
                "Tags": {"dc": node.datacenter, "id": node.id, "role": "node"},
                "Status": 1,
            },
            "Meta": {},
        },
    )


@routes.put("/v1/agent/service/register")
async def register_service(request: web.Request) -> web.Response:
    """Register a service (``AgentServiceRegistration``) with its checks."""
    try:
        body = await request.json()
    except json.JSONDecodeError as err:
        raise BadRequest(f"Request decode failed: {err}") from None
    service = parse_service(body)
    replace = query_bool(request, "replace-existing-checks")
    await request.app[LOCAL].register(service, replace_checks=replace)
    return web.Response()


@routes.put("/v1/agent/service/deregister/{service_id}")
async def deregister_service(request: web.Request) -> web.Response:
    """Remove a service and its checks; an unknown ID is a no-op."""
    await request.app[LOCAL].deregister(request.match_info["service_id"])
    return web.Response()


async def _set_check(request: web.Request, status: str, output: str) -> web.Response:
    if status not in CHECK_STATUSES:
        raise BadRequest(f'Invalid check status: "{status}"')
    await request.app[LOCAL].update_check(request.match_info["check_id"], status, output)
    return web.Response()


@routes.put("/v1/agent/check/pass/{check_id}")
async def check_pass(request: web.Request) -> web.Response:
    """Mark a TTL check passing (``?note=`` becomes its output)."""
    return await _set_check(request, "passing", request.query.get("note", ""))


@routes.put("/v1/agent/check/warn/{check_id}")
async def check_warn(request: web.Request) -> web.Response:
    """Mark a TTL check warning."""
    return await _set_check(request, "warning", request.query.get("note", ""))


@routes.put("/v1/agent/check/fail/{check_id}")
async def check_fail(request: web.Request) -> web.Response:
    """Mark a TTL check critical."""
    return await _set_check(request, "critical", request.query.get("note", ""))


@routes.put("/v1/agent/check/update/{check_id}")
async def check_update(request: web.Request) -> web.Response:
    """Set a TTL check's ``Status`` and ``Output`` from the JSON body."""
    try:
        body = normalize(await request.json(), "check update")
    except json.JSONDecodeError as err:
        raise BadRequest(f"Request decode failed: {err}") from None
    return await _set_check(request, str(body.get("status", "")), str(body.get("output", "")))


@routes.get("/v1/agent/services")
async def agent_services(request: web.Request) -> web.Response:
    """The services registered through this agent: ``{ID: AgentService}``."""
    local, render = request.app[LOCAL], request.app[RENDER]
    snap = request.app[SERVER].state.snapshot()
    regs = [r for r in _registrations(snap, request) if local.is_local(r)]
    return json_response(request, {r.id: render.agent_service(r) for r in regs})


@routes.get("/v1/agent/checks")
async def agent_checks(request: web.Request) -> web.Response:
    """The checks of services registered through this agent: ``{CheckID: HealthCheck}``."""
    local, render = request.app[LOCAL], request.app[RENDER]
    snap = request.app[SERVER].state.snapshot()
    checks: dict[str, Any] = {}
    for reg in _registrations(snap, request):
        if local.is_local(reg):
            checks.update({c["CheckID"]: c for c in render.service_checks(reg, render.node)})
    return json_response(request, checks)


# ---------------------------------------------------------------------- catalog


@routes.get("/v1/catalog/services")
async def catalog_services(request: web.Request) -> web.Response:
    """Every service name and the union of its instances' tags (blocking)."""

    def build(snap: Any) -> dict[str, list[str]]:
        tags: dict[str, set[str]] = {}
        for reg in _registrations(snap, request):
            tags.setdefault(reg.service_name, set()).update(reg.tags or ())
        return {name: sorted(t) for name, t in sorted(tags.items())}

    return await consul_query(request, (SERVICES,), build)


@routes.get("/v1/catalog/service/{name}")
async def catalog_service(request: web.Request) -> web.Response:
    """The instances of one service as ``CatalogService`` entries (``tag`` filters)."""
    name, keep, render = request.match_info["name"], tag_filter(request), request.app[RENDER]

    def build(snap: Any) -> list[dict[str, Any]]:
        regs = [r for r in _registrations(snap, request) if r.service_name == name and keep(r)]
        return [render.catalog_service(r, snap) for r in regs]

    return await consul_query(request, _ALL, build)


@routes.get("/v1/catalog/nodes")
async def catalog_nodes(request: web.Request) -> web.Response:
    """The agent's node and caravan's client nodes."""
    render = request.app[RENDER]
    return await consul_query(
        request, (NODES,), lambda snap: [n.to_json() for n in render.nodes(snap)]
    )


# ---------------------------------------------------------------------- health


@routes.get("/v1/health/service/{name}")
async def health_service(request: web.Request) -> web.Response:
    """``[{Node, Service, Checks}]`` for one service; ``passing`` keeps all-passing ones."""
    name, keep, render = request.match_info["name"], tag_filter(request), request.app[RENDER]
    passing = passing_only(request)

    def build(snap: Any) -> list[dict[str, Any]]:
        regs = [r for r in _registrations(snap, request) if r.service_name == name and keep(r)]
        entries = [render.health_entry(r, snap) for r in regs]
        if passing:
            entries = [e for e in entries if all(c["Status"] == "passing" for c in e["Checks"])]
        return entries

    return await consul_query(request, _ALL, build)


@routes.get("/v1/health/state/{state}")
async def health_state(request: web.Request) -> web.Response:
    """Every check in ``state`` (``any``, ``passing``, ``warning``, ``critical``)."""
    state, render = request.match_info["state"], request.app[RENDER]
    if state not in _STATES:
        raise BadRequest(f"Invalid check state: {state!r}")

    def build(snap: Any) -> list[dict[str, Any]]:
        checks = [n.serf_check() for n in render.nodes(snap)]
        for reg in _registrations(snap, request):
            checks += render.service_checks(reg, render.node_of(reg, snap))
        return [c for c in checks if state == "any" or c["Status"] == state]

    return await consul_query(request, _ALL, build)


# ---------------------------------------------------------------------- status


@routes.get("/v1/status/leader")
async def status_leader(request: web.Request) -> web.Response:
    """The leader's RPC address as a JSON string (empty when none is known)."""
    check_datacenter(request)
    server = request.app[SERVER]
    return json_response(request, server.consensus.leader_address or "")


# ---------------------------------------------------------------------- the application


def create_consul_app(
    server: Any,
    *,
    datacenter: str,
    node_name: str,
    node_id: str = "",
    address: str = "127.0.0.1",
) -> web.Application:
    """Build the Consul-compatible application over ``server``'s catalog.

    :param server: the ``caravan.server.Server``; reads use ``server.state``, writes
        ``server.service_upsert`` and ``server.service_delete``.
    :param datacenter: reported as the agent's datacenter and stamped on registrations.
    :param node_name: the agent's node name in Consul answers.
    :param node_id: the caravan client node ID of this agent, when it runs a client: its
        registrations then belong to that node. Empty for none.
    :param address: the agent's address, given to services registered without one.
    :returns: an application whose check runner runs while the application does.
    """
    app = web.Application(middlewares=[consul_errors])
    app[SERVER] = server
    app[DATACENTER] = datacenter
    local = LocalAgent(server, datacenter=datacenter, node_id=node_id, address=address)
    app[LOCAL] = local
    node = ConsulNode(node_id or local_node_id(node_name), node_name, address, datacenter)
    app[RENDER] = Renderer(local, node)
    app.add_routes(routes)

    async def run_checks(app: web.Application) -> AsyncIterator[None]:
        async with local.running():
            yield

    app.cleanup_ctx.append(run_checks)
    return app


async def serve_consul(app: web.Application, host: str, port: int = DEFAULT_PORT) -> web.AppRunner:
    """Serve ``app`` on ``host:port`` (0 picks a free port); stop it with ``runner.cleanup()``.

    :raises OSError: the address is taken; the message names it.
    """
    # Blocking queries hold requests for minutes: cancel them on shutdown instead of waiting.
    runner = web.AppRunner(
        app, access_log=None, handler_cancellation=True, shutdown_timeout=SHUTDOWN_GRACE
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as err:
        await runner.cleanup()
        message = f"Consul API: cannot listen on {host}:{port}: {err.strerror}"
        raise OSError(err.errno, message) from err
    return runner
