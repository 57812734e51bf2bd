"""The builtin backend against the SDK's discovery conformance suite, plus what a user of
``caravan agent -dev`` relies on."""

from __future__ import annotations

import asyncio
from importlib.metadata import entry_points

import pytest
from caravan_discovery_builtin.backend import BuiltinDiscovery

from caravan_plugins import PluginConfigError, ServiceInstance
from caravan_plugins.testing import DiscoveryBackendConformance


class TestBuiltinConformance(DiscoveryBackendConformance):
    backend_class = BuiltinDiscovery


def web(n: int, **fields: object) -> ServiceInstance:
    return ServiceInstance(
        id=f"web-{n}", service="web", address="10.0.0.1", port=8000 + n, **fields
    )


def test_entry_point_loads_the_backend() -> None:
    (ep,) = [ep for ep in entry_points(group="caravan.discovery") if ep.name == "builtin"]
    assert ep.load() is BuiltinDiscovery


def test_takes_no_configuration() -> None:
    BuiltinDiscovery.from_config({})
    with pytest.raises(PluginConfigError, match='plugin "builtin" config: address: unknown key'):
        BuiltinDiscovery.from_config({"address": "127.0.0.1:8500"})


async def test_watch_of_one_service_ignores_others() -> None:
    backend = BuiltinDiscovery()
    await backend.register(web(1))
    index, _ = await backend.watch("web", index=0)
    await backend.register(ServiceInstance(id="db-1", service="db", address="x", port=1))
    again, instances = await backend.watch("web", index=index, wait=0.1)
    assert again == index
    assert [i.id for i in instances] == ["web-1"]


async def test_watch_sees_a_service_disappear() -> None:
    backend = BuiltinDiscovery()
    await backend.register(web(1))
    index, _ = await backend.watch("web", index=0)
    watcher = asyncio.create_task(backend.watch("web", index=index, wait=5))
    await asyncio.sleep(0.05)
    await backend.deregister("web-1")
    new_index, instances = await asyncio.wait_for(watcher, 5)
    assert new_index > index and instances == []


async def test_renaming_an_instance_wakes_both_services() -> None:
    backend = BuiltinDiscovery()
    await backend.register(web(1))
    index, _ = await backend.watch("web", index=0)
    await backend.register(web(1).model_copy(update={"service": "api"}))
    assert (await backend.watch("web", index=index, wait=0.1))[1] == []
    assert [i.id for i in (await backend.watch("api", index=0))[1]] == ["web-1"]


async def test_listed_instances_are_copies() -> None:
    backend = BuiltinDiscovery()
    await backend.register(web(1, checks={"alive": "passing"}))
    (listed,) = await backend.list_instances()
    listed.checks["alive"] = "critical"
    assert (await backend.list_instances(passing_only=True))[0].id == "web-1"
