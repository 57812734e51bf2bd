"""The builtin backend's config, entry point and JSON mapping. Its conformance run against a
real caravan agent is in the workspace's ``tests/discovery``."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from caravan_discovery_builtin.backend import (
    BuiltinDiscovery,
    from_registration,
    to_registration,
)

from caravan_plugins import PluginConfigError, PluginError, ServiceInstance


def test_entry_point_loads_the_backend() -> None:
    (ep,) = [ep for ep in entry_points(group="caravan.discovery") if ep.name == "builtin"]
    assert ep.load() is BuiltinDiscovery


def test_defaults_reach_the_local_agent() -> None:
    assert BuiltinDiscovery.from_config({}).config.address == "http://127.0.0.1:4646"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"address": "127.0.0.1:4646"}, 'address: expected "http://host:port"'),
        ({"adress": "http://x:1"}, "adress: unknown key"),
    ],
)
def test_bad_config_names_the_key(raw: dict, expected: str) -> None:
    with pytest.raises(PluginConfigError, match=f'plugin "builtin" config: {expected}'):
        BuiltinDiscovery.from_config(raw)


def test_registration_json_round_trips() -> None:
    instance = ServiceInstance(
        id="web-1",
        service="web",
        namespace="shop",
        node_id="n1",
        job_id="shop",
        alloc_id="a1",
        address="10.0.0.1",
        port=80,
        tags=["v1"],
        meta={"k": "v"},
        checks={"alive": "warning"},
    )
    reg = to_registration(instance)
    assert reg["ServiceName"] == "web" and reg["Checks"] == {"alive": "warning"}
    assert from_registration(reg) == instance


async def test_an_unreachable_agent_is_a_plugin_error() -> None:
    backend = BuiltinDiscovery.from_config({"address": "http://127.0.0.1:1"})
    with pytest.raises(PluginError, match=r"caravan agent at http://127\.0\.0\.1:1 is unreachable"):
        await backend.list_instances()
