"""The docker driver's config schemas (both HCL shapes) and entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from caravan_driver_docker.driver import DockerDriver

from caravan_plugins import PluginConfigError


def test_entry_point_loads_the_driver() -> None:
    (ep,) = [ep for ep in entry_points(group="caravan.drivers") if ep.name == "docker"]
    assert ep.load() is DockerDriver


def test_agent_config_defaults_are_nomads() -> None:
    config = DockerDriver.from_config({}).config
    assert config.endpoint == "unix:///var/run/docker.sock"
    assert (config.gc.image, config.gc.image_delay, config.gc.container) == (True, 180.0, True)
    assert config.volumes.enabled is False
    assert config.allow_privileged is False
    assert config.pull_activity_timeout == 120.0
    assert config.logging.config == {"max-file": "2", "max-size": "2m"}


def test_agent_config_nomad_example() -> None:
    raw = {
        "endpoint": "unix:///var/run/docker.sock",
        "auth": {"config": "/etc/docker-auth.json", "helper": "ecr-login"},
        "tls": {"cert": "/etc/certs/c.pem", "key": "/etc/certs/k.pem", "ca": "/etc/certs/ca"},
        "extra_labels": ["job_name", "task_group_name"],
        "gc": {"image": True, "image_delay": "3m", "container": False},
        "volumes": [{"enabled": True, "selinuxlabel": "z"}],
        "allow_privileged": False,
        "allow_caps": ["CHOWN", "NET_RAW"],
        "pull_activity_timeout": "5m",
    }
    config = DockerDriver.from_config(raw).config
    assert config.volumes.enabled and config.volumes.selinuxlabel == "z"
    assert config.allow_caps == ["chown", "net_raw"]
    assert config.pull_activity_timeout == 300.0
    assert config.gc.container is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"gc": {"image_delay": "three minutes"}}, "gc.image_delay: invalid duration"),
        ({"volumes": {"enable": True}}, "volumes.enable: unknown key"),
        ({"allow_caps": ["sys_everything"]}, "allow_caps[0]: unknown Linux capability"),
        ({"endpont": "tcp://x:2375"}, "endpont: unknown key"),
        ({"volumes": [{}, {}]}, "volumes: expected one block, got 2"),
    ],
)
def test_bad_agent_config_names_the_field(raw: dict, expected: str) -> None:
    with pytest.raises(PluginConfigError) as err:
        DockerDriver.from_config(raw)
    assert expected in str(err.value)


def test_task_config_nomad_example() -> None:
    config = {
        "image": "redis:7",
        "command": "redis-server",
        "args": ["--port", "6379"],
        "ports": ["db"],
        "labels": {"group": "webservice-cache"},
        "auth": {"username": "dockerhub_user", "password": "dockerhub_password"},
        "mount": [
            {"type": "bind", "source": "local", "target": "/etc/redis", "readonly": True},
            {"type": "tmpfs", "target": "/scratch", "tmpfs_options": {"size": 100000}},
        ],
        "logging": {"type": "syslog", "config": [{"tag": "redis"}]},
        "ulimit": {"nproc": "4242", "nofile": "2048:4096"},
        "dns_servers": ["8.8.8.8"],
        "force_pull": True,
        "image_pull_timeout": "10m",
    }
    parsed = DockerDriver.parse_task_config(config)
    assert parsed.image_pull_timeout == 600.0
    assert parsed.mount[0].readonly and parsed.mount[1].tmpfs_options.size == 100000
    assert parsed.logging.config == {"tag": "redis"}


def test_hcl1_list_of_one_map_forms() -> None:
    parsed = DockerDriver.parse_task_config(
        {
            "image": "nginx",
            "port_map": [{"http": 80}],
            "labels": [{"a": "1"}],
            "auth": [{"username": "u", "password": "p"}],
            "sysctl": [{"net.core.somaxconn": "16384"}],
        }
    )
    assert parsed.port_map == {"http": 80}
    assert parsed.labels == {"a": "1"}
    assert parsed.auth.username == "u"
    assert parsed.sysctl == {"net.core.somaxconn": "16384"}


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"command": "x"}, "image: required key is missing"),
        ({"image": "x", "port_map": {"http": "eighty"}}, "port_map.http: Input should be a valid"),
        ({"image": "x", "mount": [{"type": "nfs"}]}, "mount[0].type: Input should be"),
        ({"image": "x", "privilegd": True}, "privilegd: unknown key"),
        ({"image": "x", "auth": {"user": "u"}}, "auth.user: unknown key"),
    ],
)
def test_bad_task_config_names_the_field(config: dict, problem: str) -> None:
    problems = [str(p) for p in DockerDriver.validate_task_config(config)]
    assert any(p.startswith(problem) for p in problems), problems
