"""What the API's handlers reach through the application: typed ``web.AppKey``s and the agent's
identity (region, datacenter, name, ports) that agent and status endpoints report.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from caravan.version import caravan_version

if TYPE_CHECKING:
    from caravan.api.client_api import ClientAPI
    from caravan.api.events import EventBroker
    from caravan.api.fragments import FragmentCache
    from caravan.api.routes import Route


@dataclass(frozen=True)
class AgentInfo:
    """The serving agent as ``/v1/agent/self`` and ``/v1/agent/members`` describe it.

    ``servers`` is the client's list of server RPC addresses (``/v1/agent/servers``);
    ``config`` is extra agent configuration merged into ``/v1/agent/self``'s ``config``.
    """

    region: str = "global"
    datacenter: str = "dc1"
    node_name: str = field(default_factory=socket.gethostname)
    bind_addr: str = "127.0.0.1"
    http_port: int = 4646
    rpc_port: int = 4647
    serf_port: int = 4648
    server_enabled: bool = True
    client_enabled: bool = True
    acl_enabled: bool = False
    version: str = field(default_factory=caravan_version)
    servers: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)


#: The ``caravan.server.Server`` (state, endpoints, leadership) the API serves.
SERVER: web.AppKey[Any] = web.AppKey("caravan.server", object)
#: The local client agent, or ``None`` when this agent runs no client.
CLIENT: web.AppKey[ClientAPI | None] = web.AppKey("caravan.client", object)
AGENT: web.AppKey[AgentInfo] = web.AppKey("caravan.agent", AgentInfo)
#: The event broker behind ``/v1/event/stream``.
EVENTS: web.AppKey[EventBroker] = web.AppKey("caravan.events", object)
#: The mounted route table (for the OpenAPI document).
ROUTES: web.AppKey[list[Route]] = web.AppKey("caravan.routes", list)
#: Encoded JSON of stored objects for list endpoints (see :mod:`caravan.api.fragments`).
FRAGMENTS: web.AppKey[FragmentCache] = web.AppKey("caravan.fragments", object)
