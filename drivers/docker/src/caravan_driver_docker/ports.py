"""Publishing a task's allocated ports on the host, as Nomad's docker driver does.

Two ways of saying which container port an allocated port reaches:

- modern: the group's ``network { port "http" { to = 8080 } }`` and the task's
  ``ports = ["http"]``: each listed label is published from its host address and port to
  ``to``, or to the same number when ``to`` is unset;
- legacy: the task's ``port_map { http = 8080 }``: every port allocated to the task is
  published, to ``port_map[label]`` when given, else to ``to`` or the same number.

Every mapping is published for both ``tcp`` and ``udp``. ``network_mode = "host"`` and
``"none"`` publish nothing (Docker has nothing to map there).
"""

from __future__ import annotations

from caravan_plugins import DriverError, PortMapping, TaskConfig

from .task_config import DockerTaskConfig

HostBinding = tuple[str, int]


def port_bindings(task: TaskConfig, config: DockerTaskConfig) -> dict[str, list[HostBinding]]:
    """Docker's ``ports`` argument: ``"8080/tcp" -> [(host_ip, host_port), ...]``.

    :raises DriverError: both ``ports`` and ``port_map`` are given, or ``ports`` names a label
        the allocation has no port for.
    """
    if network_mode(config) in ("host", "none") or config.network_mode.startswith("container:"):
        return {}
    if config.ports and config.port_map:
        raise DriverError(
            "docker: port_map cannot be used with ports; "
            "set `to` in the group network's port blocks instead"
        )
    mappings: list[tuple[PortMapping, int]] = []
    for label in config.ports:
        port = task.ports.get(label)
        if port is None:
            known = ", ".join(sorted(task.ports)) or "none"
            raise DriverError(
                f"docker: ports: port {label!r} not found, check the network block "
                f"(allocated: {known})"
            )
        mappings.append((port, port.to or port.value))
    if config.port_map:
        for label, port in sorted(task.ports.items()):
            mappings.append((port, config.port_map.get(label) or port.to or port.value))
    bindings: dict[str, list[HostBinding]] = {}
    for port, container_port in mappings:
        for protocol in ("tcp", "udp"):
            key = f"{container_port}/{protocol}"
            bindings.setdefault(key, []).append((port.host_ip, port.value))
    return bindings


def network_mode(config: DockerTaskConfig) -> str:
    """The container's network mode: the task's ``network_mode``, ``bridge`` when unset."""
    return config.network_mode or "bridge"
