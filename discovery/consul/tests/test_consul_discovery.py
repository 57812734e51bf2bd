"""The consul backend's config schema, entry point and Consul JSON mapping. Its conformance
run against caravan's Consul-compatible surface is in the workspace's ``tests/discovery``."""

from __future__ import annotations

import time
from importlib.metadata import entry_points

import pytest
from caravan_discovery_consul.backend import (
    ConsulDiscovery,
    RateLimit,
    from_health_entry,
    service_payload,
)
from caravan_discovery_consul.config import ConsulConfig

from caravan_plugins import PluginConfigError, PluginError, ServiceInstance

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


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
        "check_ttl": "1m",
        "watch_rate_limit": 2.0,
    }
    backend = ConsulDiscovery.from_config(raw)
    assert backend.config.model_dump() == raw
    http = backend.client.http
    assert (http.scheme, http.host, http.port) == ("https", "consul.service.consul", 8501)
    assert http.verify == "/etc/consul.d/ca.pem"
    assert http.cert == ("/etc/consul.d/client.pem", "/etc/consul.d/client-key.pem")
    assert (backend.client.token, backend.client.dc) == ("s3cr3t", "eu-west")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"addr": "127.0.0.1:8500"}, "addr: unknown key"),
        ({"address": "127.0.0.1"}, 'address: expected "host:port"'),
        ({"scheme": "tcp"}, "scheme: Input should be 'http' or 'https'"),
        ({"verify_ssl": "perhaps"}, "verify_ssl: Input should be a valid boolean"),
        ({"check_ttl": "0s"}, "check_ttl: must be at least 1s"),
    ],
)
def test_bad_config_names_the_key(raw: dict, expected: str) -> None:
    with pytest.raises(PluginConfigError) as err:
        ConsulDiscovery.from_config(raw)
    assert f'plugin "consul" config: {expected}' in str(err.value)


def test_instances_map_to_consul_services_and_back() -> None:
    instance = ServiceInstance(
        id="web-1",
        service="web",
        job_id="shop",
        group="frontend",
        alloc_id="a1",
        address="10.0.0.1",
        port=80,
        tags=["urlprefix-/"],
        meta={"version": "2"},
        checks={"alive": "passing", "ready": "warning"},
    )
    payload = service_payload(instance, "30s")
    assert payload["Meta"] == {
        "version": "2",
        "caravan-namespace": "default",
        "caravan-job": "shop",
        "caravan-group": "frontend",
        "caravan-alloc": "a1",
        "external-source": "caravan",
    }
    assert payload["Checks"] == [
        {"CheckID": "service:web-1:alive", "Name": "alive", "TTL": "30s", "Status": "passing"},
        {"CheckID": "service:web-1:ready", "Name": "ready", "TTL": "30s", "Status": "warning"},
    ]
    entry = {
        "Node": {"Node": "n", "Address": "10.9.9.9", "Datacenter": "dc1"},
        "Service": {k: payload[k] for k in ("ID", "Tags", "Address", "Port", "Meta")}
        | {"Service": "web"},
        "Checks": [{"Name": "Serf Health Status", "Status": "passing", "ServiceID": ""}]
        + [
            {"Name": c["Name"], "Status": c["Status"], "ServiceID": "web-1"}
            for c in payload["Checks"]
        ],
    }
    assert from_health_entry(entry) == instance


async def test_rate_limit_allows_a_burst_then_spaces_calls() -> None:
    limit = RateLimit(rate=20.0, burst=2)
    started = time.monotonic()
    for _ in range(4):
        await limit.acquire()
    assert 0.08 <= time.monotonic() - started < 1.0


async def test_an_unreachable_agent_is_a_plugin_error() -> None:
    backend = ConsulDiscovery.from_config({"address": "127.0.0.1:1"})
    with pytest.raises(PluginError, match=r"Consul agent at 127\.0\.0\.1:1 is unreachable"):
        await backend.list_instances("web")
