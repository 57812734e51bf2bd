"""What a task asks for: CPU, memory, devices and networks with their ports."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from caravan.structs.base import JobStruct
from caravan.structs.constraints import Affinity, Constraint


class Port(JobStruct):
    """A named port: ``value`` is the static host port (0 = dynamic), ``to`` the target port."""

    label: str = ""
    value: int = 0
    to: int = 0
    host_network: str = ""
    ignore_collision: bool = False


class DNSConfig(JobStruct):
    """``dns { servers, searches, options }`` of a group network."""

    servers: list[str] | None = None
    searches: list[str] | None = None
    options: list[str] | None = None


class NetworkResource(JobStruct):
    """A group ``network`` block, or a legacy task ``resources.network`` block."""

    mode: str = ""
    device: str = ""
    cidr: str = ""
    ip: str = ""
    hostname: str = ""
    mbits: int | None = None
    dns: DNSConfig | None = None
    reserved_ports: list[Port] | None = None
    dynamic_ports: list[Port] | None = None
    cni: dict[str, Any] | None = None

    def ports(self) -> list[Port]:
        """Every port of this network, static ones first."""
        return [*(self.reserved_ports or ()), *(self.dynamic_ports or ())]


class RequestedDevice(JobStruct):
    """``device "vendor/type/model" { count, constraint, affinity }``."""

    name: str = ""
    count: int | None = None
    constraints: list[Constraint] | None = None
    affinities: list[Affinity] | None = None


class Resources(JobStruct):
    """A task's ``resources`` block. ``cpu`` is in MHz, sizes in MB."""

    cpu: int | None = Field(default=None, alias="CPU")
    cores: int | None = None
    memory_mb: int | None = None
    memory_max_mb: int | None = None
    disk_mb: int | None = None
    iops: int | None = None
    networks: list[NetworkResource] | None = None
    devices: list[RequestedDevice] | None = None
    numa: dict[str, Any] | None = None
    secrets_mb: int | None = None
