"""Fixtures for ``caravan lb`` tests: a real server (one-member Raft over loopback) and its
HTTP API on a free 127.0.0.1 port, three tiny HTTP backends, and real nginx and HAProxy
processes started on files in the test's temporary directory.

The backends, the proxies and ``traffic`` are the SDK's test kit
(:mod:`caravan_plugins.testing`); this file adds the catalog they are registered in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from caravan.consul.testing import in_process_agent
from caravan.server.server import Server
from caravan.structs import ServiceRegistration
from caravan_plugins.testing.backends import Backend
from caravan_plugins.testing.proxies import ProxySetup


class CatalogBackend(Backend):
    """A test backend that can also be registered in caravan's service catalog."""

    def registration(
        self, service: str = "web", tags: tuple[str, ...] = ("urlprefix-/",), **meta: str
    ) -> ServiceRegistration:
        return ServiceRegistration(
            id=f"{service}-{self.ident}",
            service_name=service,
            namespace="default",
            datacenter="dc1",
            node_id="node-1",
            job_id=service,
            address="127.0.0.1",
            port=self.port,
            tags=list(tags),
            meta=meta or None,
        )


@dataclass
class Catalog:
    """The server whose catalog the tests change, and its HTTP address."""

    server: Server
    address: str

    async def add(self, *regs: ServiceRegistration) -> None:
        await self.server.service_upsert(list(regs))

    async def remove(self, reg: ServiceRegistration) -> None:
        await self.server.service_delete(reg.namespace, reg.service_name, reg.id)


@pytest.fixture
async def catalog() -> AsyncIterator[Catalog]:
    async with in_process_agent() as agent:
        yield Catalog(agent.server, agent.nomad_url)


@pytest.fixture(scope="module")
def backends() -> Iterator[list[CatalogBackend]]:
    servers = [CatalogBackend(f"b{i}") for i in range(3)]
    yield servers
    for server in servers:
        server.close()


@pytest.fixture
def nginx(nginx_proxy: ProxySetup) -> ProxySetup:
    """The SDK's ``nginx_proxy`` under the name these tests use."""
    return nginx_proxy


@pytest.fixture
def haproxy(haproxy_proxy: ProxySetup) -> ProxySetup:
    """The SDK's ``haproxy_proxy`` under the name these tests use."""
    return haproxy_proxy
