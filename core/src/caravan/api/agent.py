"""The agent and cluster status: ``/v1/agent/{self,members,health,servers}``,
``/v1/status/{leader,peers}`` and ``/v1/regions``.

Note Nomad's lowercase top-level keys in ``/v1/agent/self`` and ``/v1/agent/health``.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

from aiohttp import web

from caravan.api.context import AGENT, CLIENT, SERVER, AgentInfo
from caravan.api.query import encode, query_response
from caravan.api.routes import RouteTable

routes = RouteTable("Agent")

_OBJECT = {"type": "object"}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _member(info: AgentInfo, members: list[dict[str, Any]]) -> dict[str, Any]:
    """This agent's entry in the member list (built from its identity when absent)."""
    name = f"{info.node_name}.{info.region}"
    for member in members:
        if member.get("Name") == name:
            return member
    return {
        "Name": name,
        "Addr": info.bind_addr,
        "Port": info.serf_port,
        "Tags": {
            "role": "nomad",
            "region": info.region,
            "dc": info.datacenter,
            "build": info.version,
            "port": str(info.rpc_port),
            "rpc_addr": info.bind_addr,
        },
        "Status": "alive",
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 4,
    }


def _config(info: AgentInfo) -> dict[str, Any]:
    return {
        "Region": info.region,
        "Datacenter": info.datacenter,
        "NodeName": info.node_name,
        "BindAddr": info.bind_addr,
        "Version": {
            "Version": info.version,
            "VersionPrerelease": "",
            "VersionMetadata": "",
            "Revision": "",
            "BuildDate": "",
        },
        "Server": {"Enabled": info.server_enabled},
        "Client": {"Enabled": info.client_enabled},
        "ACL": {"Enabled": info.acl_enabled},
        "Ports": {"HTTP": info.http_port, "RPC": info.rpc_port, "Serf": info.serf_port},
        **info.config,
    }


@routes.get("/v1/agent/self", response=_OBJECT)
async def agent_self(request: web.Request) -> web.StreamResponse:
    """The agent's configuration, its member entry and runtime statistics."""
    info, server = request.app[AGENT], request.app[SERVER]
    state = server.state
    stats = {
        "nomad": {
            "server": str(info.server_enabled).lower(),
            "leader": str(bool(server.is_leader)).lower(),
            "leader_addr": server.leader_address(),
            "known_regions": "1",
        },
        "raft": {"applied_index": str(state.latest_index)},
        "runtime": {
            "arch": platform.machine(),
            "version": sys.version.split()[0],
            "cpu_count": str(os.cpu_count() or 1),
        },
        "client": {"known_servers": ",".join(info.servers)},
    }
    member = _member(info, server.members())
    body = {"config": _config(info), "member": member, "stats": stats}
    return query_response(request, body, state.latest_index)


@routes.get("/v1/agent/members", response=_OBJECT)
async def agent_members(request: web.Request) -> web.StreamResponse:
    """The servers of the region, as gossip members."""
    info, server = request.app[AGENT], request.app[SERVER]
    members = server.members() or [_member(info, [])]
    body = {
        "ServerName": info.node_name,
        "ServerRegion": info.region,
        "ServerDC": info.datacenter,
        "Members": members,
    }
    return query_response(request, body, server.state.latest_index)


@routes.get("/v1/agent/health", response=_OBJECT)
async def agent_health(request: web.Request) -> web.StreamResponse:
    """Whether the agent's server (a known leader) and client (running) are healthy."""
    info, server = request.app[AGENT], request.app[SERVER]
    body: dict[str, Any] = {}
    healthy = True
    if info.server_enabled:
        ok = bool(server.known_leader)
        healthy &= ok
        body["server"] = {"ok": ok, "message": "ok" if ok else "No cluster leader"}
    if info.client_enabled:
        ok = request.app[CLIENT] is not None
        healthy &= ok
        body["client"] = {"ok": ok, "message": "ok" if ok else "client is not running"}
    return web.Response(
        status=200 if healthy else 500, body=encode(request, body), content_type="application/json"
    )


@routes.get("/v1/agent/servers", response=_STRINGS)
async def agent_servers(request: web.Request) -> web.StreamResponse:
    """The server RPC addresses this agent's client talks to."""
    info, server = request.app[AGENT], request.app[SERVER]
    servers = list(info.servers) or server.peers()
    return web.Response(body=encode(request, servers), content_type="application/json")


@routes.get("/v1/status/leader", response={"type": "string"})
async def status_leader(request: web.Request) -> web.StreamResponse:
    """The leader's RPC address (``""`` when there is none)."""
    server = request.app[SERVER]
    return query_response(request, server.leader_address(), server.state.latest_index)


@routes.get("/v1/status/peers", response=_STRINGS)
async def status_peers(request: web.Request) -> web.StreamResponse:
    """The RPC addresses of the region's Raft peers."""
    server = request.app[SERVER]
    return query_response(request, server.peers(), server.state.latest_index)


@routes.get("/v1/regions", response=_STRINGS)
async def regions(request: web.Request) -> web.StreamResponse:
    """The regions this agent knows (federation is not supported: only its own)."""
    return web.Response(
        body=encode(request, [request.app[AGENT].region]), content_type="application/json"
    )
