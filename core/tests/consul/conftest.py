"""A real in-process caravan server (one-member Raft over loopback) with its Nomad API and its
Consul-compatible surface listening on free ports of 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from caravan.api import AgentInfo, create_app
from caravan.consul import create_consul_app, serve_consul
from caravan.rpc import RPCServer
from caravan.server.config import ServerConfig
from caravan.server.consensus import RaftGroup
from caravan.server.server import Server
from caravan.state import FSM, StateStore


@dataclass
class Agent:
    server: Server
    consul_port: int
    nomad_port: int

    @property
    def consul_url(self) -> str:
        return f"http://127.0.0.1:{self.consul_port}"

    @property
    def nomad_url(self) -> str:
        return f"http://127.0.0.1:{self.nomad_port}"


@pytest.fixture
async def agent() -> AsyncIterator[Agent]:
    rpc = RPCServer("127.0.0.1:0")
    await rpc.start()
    fsm = FSM(StateStore())
    group = RaftGroup(fsm, rpc, tick_interval=0.02, apply_timeout=5.0, name="test-agent")
    await group.start()
    await group.wait_for_leader(10)
    server = Server(ServerConfig(num_schedulers=0, rpc_address=rpc.address), group, fsm)
    async with server:
        consul = await serve_consul(
            create_consul_app(server, datacenter="dc1", node_name="test-agent"), "127.0.0.1", 0
        )
        nomad = web.AppRunner(create_app(server, agent_info=AgentInfo(node_name="test-agent")))
        await nomad.setup()
        await web.TCPSite(nomad, "127.0.0.1", 0).start()
        try:
            yield Agent(server, consul.addresses[0][1], nomad.addresses[0][1])
        finally:
            await nomad.cleanup()
            await consul.cleanup()
    await group.stop()
    await rpc.stop()
