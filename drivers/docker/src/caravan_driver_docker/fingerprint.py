"""What a healthy dockerd contributes to the node's attributes, as Nomad names them.

``driver.docker = "1"``, ``driver.docker.version`` (the daemon's version),
``driver.docker.runtimes`` (comma-separated, sorted), ``driver.docker.os_type``,
``driver.docker.bridge_ip`` (the gateway of Docker's ``bridge`` network, when it has one),
and ``driver.docker.privileged.enabled`` / ``driver.docker.volumes.enabled`` /
``driver.docker.pids.limit`` when the plugin config turns those on.
"""

from __future__ import annotations

import fcntl
import socket
import struct

import docker
from docker.errors import DockerException

from .config import DockerConfig

# ioctl asking the kernel for an interface's IPv4 address (linux/sockios.h).
SIOCGIFADDR = 0x8915


def daemon_attributes(client: docker.DockerClient, config: DockerConfig) -> dict[str, str]:
    """Ask the daemon about itself and return the node attributes. Blocking.

    :raises docker.errors.DockerException: the daemon stopped answering.
    """
    info = client.info()
    attributes = {
        "driver.docker": "1",
        "driver.docker.version": str(info.get("ServerVersion", "")),
        "driver.docker.runtimes": ",".join(sorted(info.get("Runtimes") or {})),
        "driver.docker.os_type": str(info.get("OSType", "")),
    }
    bridge_ip = _bridge_ip(client)
    if bridge_ip:
        attributes["driver.docker.bridge_ip"] = bridge_ip
    if config.allow_privileged:
        attributes["driver.docker.privileged.enabled"] = "1"
    if config.volumes.enabled:
        attributes["driver.docker.volumes.enabled"] = "1"
    if config.pids_limit:
        attributes["driver.docker.pids.limit"] = str(config.pids_limit)
    return attributes


def _bridge_ip(client: docker.DockerClient) -> str:
    # A daemon started with --bridge=none has no bridge network; that is not an error.
    try:
        network = client.api.inspect_network("bridge")
    except DockerException:
        return ""
    for pool in (network.get("IPAM") or {}).get("Config") or []:
        if pool.get("Gateway"):
            return str(pool["Gateway"])
    # The default bridge usually leaves the gateway out of its IPAM config; the address of
    # its interface (docker0) is that gateway.
    interface = (network.get("Options") or {}).get("com.docker.network.bridge.name", "")
    return _interface_ipv4(interface) if interface else ""


def _interface_ipv4(name: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            answer = fcntl.ioctl(
                sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15])
            )
        except OSError:
            return ""
    return socket.inet_ntoa(answer[20:24])
