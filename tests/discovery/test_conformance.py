"""Both discovery plugins pass the SDK's conformance suite against a real in-process caravan
agent: ``builtin`` through the Nomad API, ``consul`` through the Consul-compatible surface."""

from __future__ import annotations

import pytest
from caravan_discovery_builtin.backend import BuiltinDiscovery
from caravan_discovery_consul.backend import ConsulDiscovery

from caravan_plugins import DiscoveryBackend
from caravan_plugins.testing import DiscoveryBackendConformance

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class TestBuiltinAgainstAgent(DiscoveryBackendConformance):
    backend_class = BuiltinDiscovery

    @pytest.fixture(autouse=True)
    def _agent(self, agent) -> None:
        self.config = {"address": agent.nomad_url}

    async def new_backend(self) -> DiscoveryBackend:
        return BuiltinDiscovery.from_config(self.config)


class TestConsulAgainstConsulSurface(DiscoveryBackendConformance):
    backend_class = ConsulDiscovery

    @pytest.fixture(autouse=True)
    def _agent(self, agent) -> None:
        self.config = {"address": f"127.0.0.1:{agent.consul_port}"}

    async def new_backend(self) -> DiscoveryBackend:
        return ConsulDiscovery.from_config(self.config)
