"""caravan's HTTP API v1, compatible with Nomad's paths, parameters, JSON and errors.

``create_app(server, client=..., agent_info=...)`` builds the aiohttp application; one module
per resource declares its routes (:mod:`caravan.api.routes`), from which the OpenAPI document
is generated. The client agent plugs in through :class:`ClientAPI`.
"""

from caravan.api.app import MAX_BODY_BYTES, create_app
from caravan.api.client_api import ClientAPI, StreamFrame
from caravan.api.context import AGENT, CLIENT, EVENTS, SERVER, AgentInfo
from caravan.api.events import EventBroker
from caravan.api.filter import Filter, compile_filter

__all__ = [
    "AGENT",
    "CLIENT",
    "EVENTS",
    "MAX_BODY_BYTES",
    "SERVER",
    "AgentInfo",
    "ClientAPI",
    "EventBroker",
    "Filter",
    "StreamFrame",
    "compile_filter",
    "create_app",
]
