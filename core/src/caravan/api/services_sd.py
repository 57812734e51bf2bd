"""caravan's service-discovery extensions of the HTTP API (under ``/v1/caravan/``).

- ``GET /v1/caravan/prometheus/targets``: Prometheus ``http_sd`` targets, one target group
  per service instance, labelled like Prometheus' ``nomad_sd`` (``__meta_caravan_*``).
  Parameters: ``service`` (repeatable), ``tag`` (repeatable; an instance must have all),
  ``passing`` (only instances whose checks all pass), ``namespace`` (``*`` for all).
- ``PUT /v1/caravan/services`` with ``{"Services": [ServiceRegistration...]}``: register or
  replace instances (what the ``builtin`` discovery plugin and registrars outside caravan
  use; Nomad's clients do the same over RPC).
- ``PUT /v1/caravan/service/:id/checks`` with ``{"Checks": {name: status}}``: record check
  results of one instance; 404 when it is not registered.
- ``DELETE /v1/caravan/service/:id``: remove one instance by ID; an unknown ID is a no-op.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from caravan.api.body import read_json
from caravan.api.context import AGENT, SERVER
from caravan.api.errors import BadRequest, NotFound
from caravan.api.query import QueryOptions, blocking_query, query_bool, write_response
from caravan.api.routes import RouteTable
from caravan.consul import catalog
from caravan.state.tables import ALLOCS, SERVICES
from caravan.structs import ServiceRegistration
from caravan.structs.service_registration import CHECK_CRITICAL, CHECK_PASSING, CHECK_WARNING

routes = RouteTable("Services")

_STATUSES = (CHECK_PASSING, CHECK_WARNING, CHECK_CRITICAL)
_TARGET_GROUPS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "targets": {"type": "array", "items": {"type": "string"}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
}
_INDEX = {"type": "object", "properties": {"Index": {"type": "integer"}}}


def target_group(reg: Any, group: str) -> dict[str, Any]:
    """One ``http_sd`` target group for a registration (``group``: its task group, or "")."""
    host = f"[{reg.address}]" if ":" in reg.address else reg.address
    tags = reg.tags or []
    labels = {
        "__meta_caravan_address": reg.address,
        "__meta_caravan_service": reg.service_name,
        "__meta_caravan_service_id": reg.id,
        "__meta_caravan_service_address": reg.address,
        "__meta_caravan_service_port": str(reg.port),
        "__meta_caravan_namespace": reg.namespace,
        "__meta_caravan_dc": reg.datacenter,
        "__meta_caravan_node_id": reg.node_id,
        "__meta_caravan_job": reg.job_id,
        "__meta_caravan_alloc_id": reg.alloc_id,
        "__meta_caravan_health": reg.health(),
        # Wrapped in separators, as nomad_sd does, so `.*,web,.*` matches a whole tag.
        "__meta_caravan_tags": f",{','.join(tags)}," if tags else "",
    }
    if group:
        labels["__meta_caravan_group"] = group
    return {"targets": [f"{host}:{reg.port}"], "labels": labels}


@routes.get(
    "/v1/caravan/prometheus/targets",
    response=_TARGET_GROUPS,
    params=("service", "tag", "passing"),
    blocking=True,
)
async def prometheus_targets(request: web.Request) -> web.StreamResponse:
    """Prometheus http_sd target groups, one per service instance (caravan extension)."""
    services = set(request.query.getall("service", []))
    tags = set(request.query.getall("tag", []))
    passing = query_bool(request, "passing")

    def build(snap: Any, opts: QueryOptions) -> Any:
        groups = []
        regs = sorted(
            snap.service_registrations(opts.namespace), key=lambda r: (r.service_name, r.id)
        )
        for reg in regs:
            if services and reg.service_name not in services:
                continue
            if not tags <= set(reg.tags or ()) or (passing and reg.health() != CHECK_PASSING):
                continue
            alloc = snap.alloc_by_id(reg.alloc_id) if reg.alloc_id else None
            groups.append(target_group(reg, alloc.task_group if alloc is not None else ""))
        return groups

    return await blocking_query(request, (SERVICES, ALLOCS), build)


@routes.write("/v1/caravan/services", response=_INDEX)
async def upsert_services(request: web.Request) -> web.StreamResponse:
    """Register or replace service instances (caravan extension)."""
    body = await read_json(request)
    raw = body.get("Services") if isinstance(body, dict) else None
    if not isinstance(raw, list) or not raw:
        raise BadRequest("Services: expected a non-empty list of service registrations")
    datacenter = request.app[AGENT].datacenter
    regs = []
    for n, item in enumerate(raw):
        reg = ServiceRegistration.from_api(item)
        if not reg.id or not reg.service_name:
            raise BadRequest(f"Services[{n}]: a registration needs an ID and a ServiceName")
        if any(s not in _STATUSES for s in (reg.checks or {}).values()):
            raise BadRequest(f"Services[{n}].Checks: statuses are passing, warning or critical")
        regs.append(
            reg.model_copy(
                update={
                    "namespace": reg.namespace or "default",
                    "datacenter": reg.datacenter or datacenter,
                }
            )
        )
    index = await catalog.upsert(request.app[SERVER], regs)
    return write_response(request, {"Index": index}, index)


@routes.write("/v1/caravan/service/{id}/checks", response=_INDEX)
async def update_checks(request: web.Request) -> web.StreamResponse:
    """Record the latest status of checks of one instance (caravan extension)."""
    body = await read_json(request)
    checks = body.get("Checks") if isinstance(body, dict) else None
    if not isinstance(checks, dict) or any(s not in _STATUSES for s in checks.values()):
        raise BadRequest('Checks: expected {"<check name>": "passing|warning|critical"}')
    index = await catalog.set_check_statuses(request.app[SERVER], request.match_info["id"], checks)
    if index is None:
        raise NotFound("service registration not found")
    return write_response(request, {"Index": index}, index)


@routes.delete("/v1/caravan/service/{id}", response=_INDEX)
async def delete_service_by_id(request: web.Request) -> web.StreamResponse:
    """Remove one instance by ID; an unknown ID is a no-op (caravan extension)."""
    server = request.app[SERVER]
    index = await catalog.delete(server, request.match_info["id"])
    if index is None:
        index = server.state.snapshot().table_index(SERVICES)
    return write_response(request, {"Index": index}, index)
