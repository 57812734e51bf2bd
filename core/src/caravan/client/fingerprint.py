"""What the client reports about its node: host attributes, resources, and driver health.

Attribute names are Nomad's (``cpu.numcores``, ``memory.totalbytes``, ``kernel.name``,
``unique.network.ip-address``...) so existing ``constraint`` blocks work unchanged. Each
driver contributes ``Drivers[name]`` (Detected, Healthy, HealthDescription, Attributes) and,
when healthy, its attributes (``driver.raw_exec = "1"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import platform
import shutil
import socket
import struct
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from caravan.structs.node import (
    DriverInfo,
    NodeCpuResources,
    NodeDiskResources,
    NodeMemoryResources,
    NodeReservedCpuResources,
    NodeReservedNetworkResources,
    NodeReservedResources,
    NodeResources,
)
from caravan.structs.resources import NetworkResource
from caravan.version import caravan_version
from caravan_plugins import TaskDriver

from .config import ClientConfig

log = logging.getLogger(__name__)

MB = 1024 * 1024
#: Drivers that take longer than this to fingerprint are reported unhealthy.
DRIVER_FINGERPRINT_TIMEOUT = 10.0
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}
_SIOCGIFADDR = 0x8915


def host_attributes(config: ClientConfig, ip: str) -> dict[str, str]:
    """The node attributes of this host (CPU, memory, disk, network, kernel, OS)."""
    cores = os.cpu_count() or 1
    mhz, model = _cpu_info()
    total = config.cpu_total_compute or cores * mhz
    memory = config.memory_total_mb * MB if config.memory_total_mb else _memory_bytes()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    disk = shutil.disk_usage(config.data_dir)
    os_name, os_version = _os_release()
    return {
        "cpu.numcores": str(cores),
        "cpu.frequency": str(mhz),
        "cpu.totalcompute": str(total),
        "cpu.modelname": model,
        "cpu.arch": _ARCH.get(platform.machine(), platform.machine()),
        "memory.totalbytes": str(memory),
        "unique.storage.volume": _volume_of(config.data_dir),
        "unique.storage.bytestotal": str(disk.total),
        "unique.storage.bytesfree": str(disk.free),
        "unique.network.ip-address": ip,
        "unique.hostname": socket.gethostname(),
        "kernel.name": platform.system().lower(),
        "kernel.version": platform.release(),
        "os.name": os_name,
        "os.version": os_version,
        "caravan.version": caravan_version(),
        "nomad.version": caravan_version(),
        "caravan.region": config.region,
    }


def node_resources(config: ClientConfig, attrs: Mapping[str, str], iface: str) -> NodeResources:
    """What the node offers, from its attributes (CPU MHz, memory MB, free disk MB)."""
    ip = attrs["unique.network.ip-address"]
    return NodeResources(
        cpu=NodeCpuResources(
            cpu_shares=int(attrs["cpu.totalcompute"]),
            total_cpu_cores=int(attrs["cpu.numcores"]),
            reservable_cpu_cores=list(range(int(attrs["cpu.numcores"]))),
        ),
        memory=NodeMemoryResources(memory_mb=int(attrs["memory.totalbytes"]) // MB),
        disk=NodeDiskResources(disk_mb=int(attrs["unique.storage.bytesfree"]) // MB),
        networks=[NetworkResource(mode="host", device=iface, ip=ip, cidr=f"{ip}/32", mbits=1000)],
        min_dynamic_port=config.min_dynamic_port,
        max_dynamic_port=config.max_dynamic_port,
    )


def reserved_resources(config: ClientConfig) -> NodeReservedResources:
    """``client { reserved { ... } }`` as the node's reserved resources."""
    r = config.reserved
    return NodeReservedResources(
        cpu=NodeReservedCpuResources(cpu_shares=r.cpu),
        memory=NodeMemoryResources(memory_mb=r.memory),
        disk=NodeDiskResources(disk_mb=r.disk),
        networks=NodeReservedNetworkResources(reserved_host_ports=r.reserved_ports),
    )


async def fingerprint_drivers(drivers: Mapping[str, TaskDriver]) -> dict[str, DriverInfo]:
    """Ask every driver for its health, concurrently; a driver that raises or hangs is
    reported unhealthy with the reason, never stopping the others."""

    async def one(driver: TaskDriver) -> DriverInfo:
        now = datetime.now(UTC)
        try:
            async with asyncio.timeout(DRIVER_FINGERPRINT_TIMEOUT):
                fp = await driver.fingerprint()
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            return DriverInfo(
                detected=True, healthy=False, health_description=reason, update_time=now
            )
        return DriverInfo(
            attributes=fp.attributes or None,
            detected=fp.health != "undetected",
            healthy=fp.health == "healthy",
            health_description=fp.health_description,
            update_time=now,
        )

    names = list(drivers)
    infos = await asyncio.gather(*(one(drivers[n]) for n in names))
    return dict(zip(names, infos, strict=True))


def driver_attributes(infos: Mapping[str, DriverInfo]) -> dict[str, str]:
    """The node attributes healthy drivers contribute."""
    out: dict[str, str] = {}
    for name, info in infos.items():
        if info.detected and info.healthy:
            out[f"driver.{name}"] = "1"
            out.update(info.attributes or {})
    return out


def advertise_address(config: ClientConfig, servers: list[str]) -> tuple[str, str]:
    """``(ip, interface)`` tasks advertise: the configured address, the configured
    interface's address, or the local address used to reach the first server."""
    if config.network_address:
        return config.network_address, config.network_interface
    if config.network_interface:
        return _interface_ip(config.network_interface), config.network_interface
    for server in servers:
        host = server.rsplit(":", 1)[0].strip("[]")
        with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((host, 9))
            ip = s.getsockname()[0]
            return ip, _interface_of(ip)
    return "127.0.0.1", _interface_of("127.0.0.1")


def _interface_ip(name: str) -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        packed = struct.pack("256s", name[:15].encode())
        try:
            return socket.inet_ntoa(fcntl.ioctl(s.fileno(), _SIOCGIFADDR, packed)[20:24])
        except OSError as exc:
            raise ValueError(f"network_interface {name!r} has no IPv4 address: {exc}") from None


def _interface_of(ip: str) -> str:
    for _, name in socket.if_nameindex():
        with contextlib.suppress(ValueError):
            if _interface_ip(name) == ip:
                return name
    return ""


def _cpu_info() -> tuple[int, str]:
    mhz, model = 0.0, platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and model in ("unknown", "", platform.machine()):
                model = value.strip()
            elif key == "cpu MHz" and not mhz:
                mhz = float(value)
    with contextlib.suppress(OSError, ValueError):
        max_khz = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text()
        mhz = max(mhz, int(max_khz) / 1000)
    # Hosts that hide their clock (some VMs, ARM boards) still need a usable capacity.
    return int(mhz) or 1000, model


def _memory_bytes() -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _os_release() -> tuple[str, str]:
    values: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            key, _, value = line.partition("=")
            values[key] = value.strip().strip('"')
    return values.get("ID", platform.system().lower()), values.get("VERSION_ID", "")


def _volume_of(path: Path) -> str:
    best, device = "", ""
    target = str(path.resolve())
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) < 2:
                continue
            mount = parts[1]
            inside = target == mount or target.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) > len(best):
                best, device = mount, parts[0]
    return device or best or "/"
