"""The consul backend's config schema, entry point, and its honest refusal to run."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from caravan_discovery_consul.backend import ConsulDiscovery
from caravan_discovery_consul.config import ConsulConfig

from caravan_plugins import PluginConfigError, PluginError, ServiceInstance


def test_entry_point_loads_the_backend() -> None:
    (ep,) = [ep for ep in entry_points(group="caravan.discovery") if ep.name == "consul"]
    assert ep.load() is ConsulDiscovery


def test_defaults_reach_the_local_agent() -> None:
    config = ConsulDiscovery.from_config({}).config
    assert config == ConsulConfig(address="127.0.0.1:8500", scheme="http", verify_ssl=True)


def test_nomad_style_tls_config_is_accepted() -> None:
    raw = {
        "address": "consul.service.consul:8501",
        "scheme": "https",
        "token": "s3cr3t",
        "datacenter": "eu-west",
        "ca_file": "/etc/consul.d/ca.pem",
        "cert_file": "/etc/consul.d/client.pem",
        "key_file": "/etc/consul.d/client-key.pem",
        "verify_ssl": False,
    }
    assert ConsulDiscovery.from_config(raw).config.model_dump() == raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"addr": "127.0.0.1:8500"}, "addr: unknown key"),
        ({"address": "127.0.0.1"}, 'address: expected "host:port"'),
        ({"scheme": "tcp"}, "scheme: Input should be 'http' or 'https'"),
        ({"verify_ssl": "perhaps"}, "verify_ssl: Input should be a valid boolean"),
    ],
)
def test_bad_config_names_the_key(raw: dict, expected: str) -> None:
    with pytest.raises(PluginConfigError) as err:
        ConsulDiscovery.from_config(raw)
    assert f'plugin "consul" config: {expected}' in str(err.value)


async def test_operations_say_the_backend_is_not_available() -> None:
    backend = ConsulDiscovery.from_config({})
    instance = ServiceInstance(id="web-1", service="web", address="10.0.0.1", port=80)
    with pytest.raises(PluginError, match="not available in this release"):
        await backend.register(instance)
    with pytest.raises(PluginError, match='use discovery "builtin"'):
        await backend.list_instances()
