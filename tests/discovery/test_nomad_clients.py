"""python-nomad reads caravan's Nomad service endpoints: instances registered through the
Consul surface and through the ``builtin`` plugin alike, with caravan's ``healthy`` filter."""

from __future__ import annotations

import asyncio
from typing import Any

import consul
import nomad
import pytest
from caravan_discovery_builtin.backend import BuiltinDiscovery
from nomad.api.base import Requester

from caravan_plugins import ServiceInstance

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class Services(Requester):
    """python-nomad has no class for the service endpoints; its Requester reaches them."""

    ENDPOINT = "services"


class Service(Requester):
    ENDPOINT = "service"


async def test_python_nomad_lists_services_from_every_writer(agent: Any) -> None:
    builtin = BuiltinDiscovery.from_config({"address": agent.nomad_url})
    await builtin.register(
        ServiceInstance(
            id="api-1",
            service="api",
            address="10.0.0.5",
            port=9000,
            tags=["v2"],
            checks={"http": "passing"},
        )
    )
    await builtin.register(
        ServiceInstance(
            id="api-2", service="api", address="10.0.0.6", port=9000, checks={"http": "critical"}
        )
    )
    c = consul.Consul(host="127.0.0.1", port=agent.consul_port)
    await asyncio.to_thread(c.agent.service.register, "cache", service_id="cache-1", port=6379)

    client = nomad.Nomad(address=agent.nomad_url, timeout=5)
    settings = client.requester_settings
    listed = await asyncio.to_thread(lambda: Services(**settings).request(method="get").json())
    assert listed == [
        {
            "Namespace": "default",
            "Services": [
                {"ServiceName": "api", "Tags": ["v2"]},
                {"ServiceName": "cache", "Tags": []},
            ],
        }
    ]

    def read(name: str, **params: str) -> Any:
        return Service(**settings).request(name, method="get", params=params or None)

    response = await asyncio.to_thread(read, "api")
    assert int(response.headers["X-Nomad-Index"]) > 0
    assert [(r["ID"], r["Address"], r["Port"]) for r in response.json()] == [
        ("api-1", "10.0.0.5", 9000),
        ("api-2", "10.0.0.6", 9000),
    ]
    healthy = (await asyncio.to_thread(read, "api", healthy="true")).json()
    assert [r["ID"] for r in healthy] == ["api-1"]
    (cache,) = (await asyncio.to_thread(read, "cache")).json()
    assert (cache["Namespace"], cache["AllocID"], cache["Address"]) == ("default", "", "127.0.0.1")
