"""How a task becomes a container: ports, mounts, capabilities, limits, labels (no dockerd)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from caravan_driver_docker.driver import DockerDriver
from caravan_driver_docker.logs import LogPosition
from caravan_driver_docker.security import capability_delta
from caravan_driver_docker.spec import create_arguments, memory_limits
from caravan_driver_docker.task import parse_docker_time
from hypothesis import given
from hypothesis import strategies as st

from caravan_plugins import DriverError, PortMapping, TaskConfig, TaskResources
from caravan_plugins.testing import TaskDirs

MB = 1024 * 1024


def _arguments(
    dirs: TaskDirs,
    config: dict[str, Any],
    plugin: dict[str, Any] | None = None,
    ports: dict[str, PortMapping] | None = None,
    resources: TaskResources | None = None,
) -> dict[str, Any]:
    driver = DockerDriver.from_config(plugin or {})
    task: TaskConfig = dirs.task_config({"image": "x", **config}, resources=resources)
    task = task.model_copy(update={"ports": ports or {}, "node_id": "node-1"})
    return create_arguments(task, driver.parse_task_config(task.config), driver.config)


HTTP = {"http": PortMapping(label="http", host_ip="127.0.0.1", value=23456, to=8080)}


def test_modern_ports_publish_to_the_port_to(tmp_task_dirs: Callable[..., TaskDirs]) -> None:
    arguments = _arguments(tmp_task_dirs(), {"ports": ["http"]}, ports=HTTP)
    assert arguments["ports"] == {
        "8080/tcp": [("127.0.0.1", 23456)],
        "8080/udp": [("127.0.0.1", 23456)],
    }


def test_legacy_port_map_and_same_port_default(tmp_task_dirs: Callable[..., TaskDirs]) -> None:
    ports = {
        "http": PortMapping(label="http", value=23456),
        "admin": PortMapping(label="admin", value=23457),
    }
    arguments = _arguments(tmp_task_dirs(), {"port_map": {"http": 8080}}, ports=ports)
    assert arguments["ports"]["8080/tcp"] == [("127.0.0.1", 23456)]
    assert arguments["ports"]["23457/udp"] == [("127.0.0.1", 23457)]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"ports": ["db"]}, "port 'db' not found, check the network block"),
        ({"ports": ["http"], "port_map": {"http": 80}}, "port_map cannot be used with ports"),
        ({"privileged": True}, "privileged containers are disabled"),
        ({"cap_add": ["sys_admin"]}, "cap_add: driver does not allow"),
        ({"volumes": ["/etc:/host-etc"]}, "volumes[0]: volumes are not enabled"),
        ({"volumes": ["../../..:/up"]}, "volumes[0]: '../../..' leaves the allocation"),
        ({"volumes": ["nocolon"]}, "volumes[0]: expected 'host:container[:ro]'"),
        ({"mount": [{"type": "volume", "source": "v", "target": "/v"}]}, "mount[0]: volumes"),
        ({"command": "sh -c"}, "contains white space; put extra arguments in args"),
        ({"runtime": "kata"}, "runtime 'kata' is not in the plugin's allow_runtimes"),
        ({"ulimit": {"nofile": "lots"}}, "ulimit.nofile: expected"),
    ],
)
def test_refusals_name_the_key(
    tmp_task_dirs: Callable[..., TaskDirs], config: dict[str, Any], message: str
) -> None:
    with pytest.raises(DriverError) as err:
        _arguments(tmp_task_dirs(), config, ports=HTTP)
    assert message in str(err.value)


def test_volumes_enabled_allows_host_paths(tmp_task_dirs: Callable[..., TaskDirs]) -> None:
    arguments = _arguments(
        tmp_task_dirs(),
        {"volumes": ["/etc:/host-etc:ro", "local/conf:/conf"]},
        plugin={"volumes": {"enabled": True}},
    )
    by_target = {m["Target"]: m for m in arguments["mounts"]}
    assert by_target["/host-etc"]["Source"] == "/etc" and by_target["/host-etc"]["ReadOnly"]
    assert by_target["/conf"]["Source"].endswith("/task/local/conf")
    assert {"/alloc", "/local", "/secrets"} <= set(by_target)


def test_task_dirs_env_and_labels(tmp_task_dirs: Callable[..., TaskDirs]) -> None:
    dirs = tmp_task_dirs()
    arguments = _arguments(dirs, {"labels": {"team": "web"}})
    assert arguments["name"] == f"task-{dirs.alloc_id}"
    env = arguments["environment"]
    assert (env["NOMAD_ALLOC_DIR"], env["NOMAD_TASK_DIR"], env["NOMAD_SECRETS_DIR"]) == (
        "/alloc",
        "/local",
        "/secrets",
    )
    labels = arguments["labels"]
    assert labels["team"] == "web"
    assert labels["com.hashicorp.nomad.alloc_id"] == dirs.alloc_id
    assert labels["com.hashicorp.nomad.node_id"] == "node-1"
    assert labels["com.hashicorp.nomad.job_name"] == "example"


def test_capabilities_default_drops_net_raw() -> None:
    assert capability_delta(["chown", "kill"], [], []) == (
        [],
        [
            "AUDIT_WRITE",
            "DAC_OVERRIDE",
            "FOWNER",
            "FSETID",
            "MKNOD",
            "NET_BIND_SERVICE",
            "NET_RAW",
            "SETFCAP",
            "SETGID",
            "SETPCAP",
            "SETUID",
            "SYS_CHROOT",
        ],
    )
    add, drop = capability_delta(["all"], ["sys_admin"], [])
    assert (add, drop) == (["SYS_ADMIN"], [])


def test_memory_limits(tmp_task_dirs: Callable[..., TaskDirs]) -> None:
    dirs = tmp_task_dirs()

    def limits(config: dict[str, Any], resources: TaskResources) -> tuple[int, int]:
        task = dirs.task_config({"image": "x", **config}, resources=resources)
        return memory_limits(task, DockerDriver.parse_task_config(task.config))

    assert limits({}, TaskResources(memory_mb=64)) == (64 * MB, 0)
    assert limits({"memory_hard_limit": 128}, TaskResources(memory_mb=64)) == (128 * MB, 64 * MB)
    assert limits({}, TaskResources(memory_mb=64, memory_max_mb=96)) == (96 * MB, 64 * MB)


def test_docker_times() -> None:
    parsed = parse_docker_time("2024-05-01T12:00:00.123456789Z")
    assert parsed is not None and parsed.microsecond == 123456
    assert parsed.tzinfo is not None
    assert parse_docker_time("0001-01-01T00:00:00Z") is None


STAMPS = st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=40).map(
    lambda seconds: [f"2024-05-01T12:00:0{s}.000000000Z" for s in sorted(seconds)]
)


@given(STAMPS, st.integers(min_value=0, max_value=40))
def test_log_resume_neither_loses_nor_repeats(stamps: list[str], cut: int) -> None:
    # A first follower writes a prefix of the messages; a second one is replayed everything
    # from the recorded second onwards and must write exactly the rest.
    position = LogPosition()
    written = []
    for index, stamp in enumerate(stamps[: min(cut, len(stamps))]):
        position.advance(stamp)
        written.append(index)
    since = position.since()
    seen: dict[str, int] = {}
    for index, stamp in enumerate(stamps):
        if since is not None and stamp[:19] < position.timestamp[:19]:
            continue
        seen[stamp] = seen.get(stamp, 0) + 1
        if not position.already_written(stamp, seen[stamp]):
            position.advance(stamp)
            written.append(index)
    assert written == list(range(len(stamps)))
