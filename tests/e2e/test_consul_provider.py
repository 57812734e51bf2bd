"""Services with ``provider = "consul"`` on a client configured with the Consul discovery
plugin are registered with the Consul agent named in its ``plugin "consul"`` block; services
with ``provider = "nomad"`` stay in the servers' built-in catalog.

The Consul agent here is the server agent's Consul-compatible API (no Consul binary is
available): the client's plugin talks to it with python-consul2 as it would to Consul, and
the test reads it back with python-consul2 too. What was registered "through this agent"
(``/v1/agent/services``) shows the plugin's registrations only, and the TTL check the plugin
created turns passing once the client's HTTP check passes, and critical when it fails.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import consul
import pytest

from caravan_plugins.testing.ports import free_ports

from .cluster import cluster_in

pytestmark = pytest.mark.integration

JOB = """
job "shop" {
  datacenters = ["dc1"]
  group "web" {
    network {
      port "http" {}
    }
    service {
      name     = "shop-consul"
      provider = "consul"
      port     = "http"
      tags     = ["urlprefix-/shop"]
      check {
        type     = "http"
        path     = "/"
        interval = "1s"
        timeout  = "1s"
      }
    }
    service {
      name     = "shop-native"
      provider = "nomad"
      port     = "http"
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "/usr/bin/python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "127.0.0.1"]
      }
      resources {
        cpu    = 50
        memory = 64
      }
    }
  }
}
"""


async def test_consul_provider_services_go_through_the_consul_plugin(tmp_path: Path) -> None:
    (consul_port,) = free_ports(1)
    async with cluster_in(tmp_path) as cluster:
        await cluster.start_server(consul=consul_port)
        await cluster.start_client(
            "client",
            {
                "raw_exec": "    enabled = true",
                "consul": f'    address = "127.0.0.1:{consul_port}"\n    check_ttl = "5s"',
            },
        )
        await cluster.run_job(JOB)
        agent = consul.Consul(host="127.0.0.1", port=consul_port)

        def consul_services() -> dict[str, Any]:
            return agent.agent.services()

        async def registered() -> dict[str, Any]:
            found = await asyncio.to_thread(consul_services)
            return next((s for s in found.values() if s["Service"] == "shop-consul"), {})

        service = await cluster.eventually(registered, 60, "shop-consul registered in Consul")
        allocs = await cluster.allocations("shop")
        assert len(allocs) == 1
        alloc = await cluster.get(f"/v1/allocation/{allocs[0]['ID']}")
        port = alloc["AllocatedResources"]["Shared"]["Ports"][0]["Value"]
        assert service["ID"] == f"_nomad-task-{alloc['ID']}-group-web-shop-consul-http"
        assert service["Port"] == port
        assert service["Address"] == "127.0.0.1"
        assert service["Tags"] == ["urlprefix-/shop"]
        assert service["Meta"]["external-source"] == "caravan"
        assert service["Meta"]["caravan-job"] == "shop"
        assert service["Meta"]["caravan-group"] == "web"
        assert service["Meta"]["caravan-alloc"] == alloc["ID"]
        # The nomad-provider service did not go through the Consul agent...
        assert all(s["Service"] != "shop-native" for s in consul_services().values())
        # ...it is in the built-in catalog, with the allocation that runs it.
        native = await cluster.get("/v1/service/shop-native")
        assert [(s["AllocID"], s["Port"]) for s in native] == [(alloc["ID"], port)]

        async def passing() -> list[Any]:
            _, entries = await asyncio.to_thread(agent.health.service, "shop-consul", passing=True)
            return entries

        entries = await cluster.eventually(passing, 30, "shop-consul passing in Consul")
        checks = {c["CheckID"]: c["Status"] for c in entries[0]["Checks"]}
        assert checks[f'service:{service["ID"]}:service: "shop-consul" check'] == "passing"

        await cluster.request("DELETE", "/v1/job/shop")

        async def deregistered() -> bool:
            found = await asyncio.to_thread(consul_services)
            return all(s["Service"] != "shop-consul" for s in found.values())

        await cluster.eventually(deregistered, 30, "shop-consul deregistered from Consul")
        _, entries = agent.health.service("shop-consul")
        assert entries == []
