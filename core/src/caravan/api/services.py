"""Built-in service discovery: ``/v1/services``, ``/v1/service/:name`` and deleting one instance.

``choose=<n>|<key>`` picks ``n`` instances by rendezvous (highest-random-weight) hashing on
``key``: the same key keeps picking the same instances while they exist, and removing one
instance only moves the keys that had picked it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from caravan.api.context import SERVER
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
from caravan.state.tables import SERVICES
from caravan.structs import ServiceRegistration

routes = RouteTable("Services")

_SERVICE_LIST = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "Namespace": {"type": "string"},
            "Services": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "ServiceName": {"type": "string"},
                        "Tags": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
}


@routes.get("/v1/services", response=_SERVICE_LIST, params=("filter",), blocking=True)
async def list_services(request: web.Request) -> web.StreamResponse:
    """Service names and their tags, grouped by namespace."""

    def build(snap: Any, opts: QueryOptions) -> Any:
        by_ns: dict[str, dict[str, set[str]]] = {}
        for reg in snap.service_registrations(opts.namespace):
            if opts.filter is not None and not opts.filter.matches(reg.to_api()):
                continue
            tags = by_ns.setdefault(reg.namespace, {}).setdefault(reg.service_name, set())
            tags.update(reg.tags or ())
        return [
            {
                "Namespace": ns,
                "Services": [
                    {"ServiceName": name, "Tags": sorted(tags)}
                    for name, tags in sorted(services.items())
                ],
            }
            for ns, services in sorted(by_ns.items())
        ]

    return await blocking_query(request, (SERVICES,), build)


def parse_choose(value: str) -> tuple[int, str]:
    """``"<n>|<key>"`` -> ``(n, key)``; 400 when malformed."""
    count, sep, key = value.partition("|")
    if not sep or not key or not count.isdigit() or int(count) < 1:
        raise BadRequest(f'failed to parse choose parameter {value!r}: want "<number>|<key>"')
    return int(count), key


def rendezvous(regs: list[Any], count: int, key: str) -> list[Any]:
    """The ``count`` registrations with the highest hash of ``key`` and their ID."""

    def weight(reg: Any) -> bytes:
        return hashlib.sha256(f"{key}\0{reg.id}".encode()).digest()

    return sorted(regs, key=weight, reverse=True)[:count]


@routes.get(
    "/v1/service/{name}",
    response=list[ServiceRegistration],
    params=("choose", "healthy"),
    blocking=True,
    list_params=True,
)
async def read_service(request: web.Request) -> web.StreamResponse:
    """The instances of one service (``choose`` picks a stable subset; ``healthy=true``, a
    caravan extension, keeps only instances whose checks all pass)."""
    name = request.match_info["name"]
    choose = parse_choose(request.query["choose"]) if request.query.get("choose") else None
    healthy = query_bool(request, "healthy")

    def build(snap: Any, opts: QueryOptions) -> Any:
        if opts.namespace is None:
            regs = [r for r in snap.service_registrations() if r.service_name == name]
        else:
            regs = snap.service_registrations_by_name(opts.namespace, name)
        if healthy:
            regs = [r for r in regs if r.health() == "passing"]
        if choose is not None:
            regs = rendezvous(regs, *choose)
        return select(regs, opts, lambda r: r.to_api(), token=lambda r: r.id)

    return await blocking_query(request, (SERVICES,), build)


@routes.delete("/v1/service/{name}/{id}", response={"type": "null"})
async def delete_service(request: web.Request) -> web.StreamResponse:
    """Remove one service instance."""
    namespace = write_namespace(request)
    name, reg_id = request.match_info["name"], request.match_info["id"]
    reg = request.app[SERVER].state.service_registration_by_id(reg_id)
    if reg is None or reg.service_name != name or reg.namespace != namespace:
        raise NotFound("service registration not found")
    index = await request.app[SERVER].service_delete(namespace, name, reg_id)
    return write_response(request, None, index)
