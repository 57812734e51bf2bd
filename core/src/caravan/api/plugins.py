"""``GET /v1/plugins``: the agent's plugins (a caravan extension; Nomad has no such path).

One entry per plugin the agent found or was asked for: its name, kind, entry point group,
distribution and version, whether it loaded and, if not, why. A driver also carries its
health on this agent's node, as the node's fingerprint reports it in ``/v1/node/:id``
``Drivers`` (``null`` on an agent without a client, or before the node registered).

The agent puts its registry under :data:`PLUGINS` after building the application; an
application built without one (an embedder's) answers 404 ``no plugin registry on this
agent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_pascal

from caravan.api.context import SERVER
from caravan.api.errors import NotFound
from caravan.api.query import query_response
from caravan.api.routes import RouteTable
from caravan_plugins.loader import PluginInfo, PluginRegistry

routes = RouteTable("Plugins")


@dataclass(frozen=True)
class PluginSource:
    """What ``/v1/plugins`` reads: the agent's registry and its client's node ID ("" if none)."""

    registry: PluginRegistry
    node_id: str = ""


PLUGINS = web.AppKey("plugins", PluginSource)


class DriverHealth(BaseModel):
    """A driver's fingerprint on this agent's node."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True)

    detected: bool
    healthy: bool
    health_description: str = ""


class PluginStatus(BaseModel):
    """One entry of ``GET /v1/plugins``."""

    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True)

    name: str
    kind: str
    group: str
    distribution: str
    version: str
    loaded: bool
    reason: str
    health: DriverHealth | None = None


def plugin_statuses(infos: list[PluginInfo], drivers: dict[str, Any]) -> list[PluginStatus]:
    """Join the registry's rows with the node's ``Drivers`` (``DriverInfo`` by name)."""
    out = []
    for info in infos:
        found = drivers.get(info.name) if info.kind == "driver" else None
        health = None
        if found is not None:
            health = DriverHealth(
                detected=found.detected,
                healthy=found.healthy,
                health_description=found.health_description,
            )
        out.append(PluginStatus(**info.model_dump(exclude={"kind"}), kind=info.kind, health=health))
    return out


@routes.get("/v1/plugins", response=list[PluginStatus])
async def list_agent_plugins(request: web.Request) -> web.StreamResponse:
    """The agent's plugins: kind, distribution, version, loaded or why not, driver health."""
    source = request.app.get(PLUGINS)
    if source is None:
        raise NotFound("no plugin registry on this agent")
    state = request.app[SERVER].state
    node = state.node_by_id(source.node_id) if source.node_id else None
    drivers = (node.drivers or {}) if node is not None else {}
    body = [s.model_dump(by_alias=True) for s in plugin_statuses(source.registry.infos(), drivers)]
    return query_response(request, body, state.latest_index)
