"""An in-process agent for tests: a real server with its Nomad API and its Consul-compatible
surface, each on a free port of 127.0.0.1.

    async with in_process_agent() as agent:
        consul = ConsulClient(agent.consul_url)

The server runs on a one-member Raft group over loopback (see :mod:`caravan.server.testing`)
with no scheduler workers, so the catalog changes only when a test changes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from caravan.api import AgentInfo, create_app
from caravan.consul.app import create_consul_app, serve_consul
from caravan.server.config import ServerConfig
from caravan.server.server import Server
from caravan.server.testing import single_server_group
from caravan.state import FSM, StateStore


@dataclass
class InProcessAgent:
    """The running server and the ports its two HTTP surfaces listen on."""

    server: Server
    consul_port: int
    nomad_port: int

    @property
    def consul_url(self) -> str:
        """The Consul-compatible API's base URL."""
        return f"http://127.0.0.1:{self.consul_port}"

    @property
    def nomad_url(self) -> str:
        """The Nomad API's base URL."""
        return f"http://127.0.0.1:{self.nomad_port}"


@contextlib.asynccontextmanager
async def in_process_agent(
    node_name: str = "test-agent", datacenter: str = "dc1"
) -> AsyncIterator[InProcessAgent]:
    """Start a server named ``node_name`` in ``datacenter`` and serve both APIs; stop
    everything on exit.

    :raises NoLeaderError: the one-member group did not elect itself within 10 s.
    """
    fsm = FSM(StateStore())
    async with single_server_group(fsm, name=node_name) as group:
        server = Server(ServerConfig(num_schedulers=0, rpc_address=group.id), group, fsm)
        async with server:
            consul = await serve_consul(
                create_consul_app(server, datacenter=datacenter, node_name=node_name),
                "127.0.0.1",
                0,
            )
            nomad = web.AppRunner(create_app(server, agent_info=AgentInfo(node_name=node_name)))
            await nomad.setup()
            await web.TCPSite(nomad, "127.0.0.1", 0).start()
            try:
                yield InProcessAgent(server, consul.addresses[0][1], nomad.addresses[0][1])
            finally:
                await nomad.cleanup()
                await consul.cleanup()
