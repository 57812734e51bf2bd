"""A client node as it registers with the servers: identity, resources, drivers, status."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field

from caravan.structs.base import ApiModel, GoTime
from caravan.structs.consts import NODE_ELIGIBLE, NODE_STATUS_INIT
from caravan.structs.resources import NetworkResource


class DriverInfo(ApiModel):
    """One driver's fingerprint on a node."""

    attributes: dict[str, str] | None = None
    detected: bool = False
    healthy: bool = False
    health_description: str = ""
    update_time: GoTime = None


class NodeCpuResources(ApiModel):
    """A node's CPU: ``cpu_shares`` is total MHz."""

    cpu_shares: int = Field(default=0, alias="CpuShares")
    total_cpu_cores: int = Field(default=0, alias="TotalCpuCores")
    reservable_cpu_cores: list[int] | None = Field(default=None, alias="ReservableCpuCores")


class NodeMemoryResources(ApiModel):
    """A node's memory in MB."""

    memory_mb: int = 0


class NodeDiskResources(ApiModel):
    """A node's allocatable disk in MB."""

    disk_mb: int = 0


class NodeResources(ApiModel):
    """What a node offers to allocations, and its dynamic port range."""

    cpu: NodeCpuResources | None = Field(default=None, alias="Cpu")
    memory: NodeMemoryResources | None = None
    disk: NodeDiskResources | None = None
    networks: list[NetworkResource] | None = None
    node_networks: list[dict[str, Any]] | None = None
    devices: list[dict[str, Any]] | None = None
    min_dynamic_port: int = 0
    max_dynamic_port: int = 0


class NodeReservedCpuResources(ApiModel):
    """CPU a node keeps for itself."""

    cpu_shares: int = Field(default=0, alias="CpuShares")
    reserved_cpu_cores: list[int] | None = Field(default=None, alias="ReservedCpuCores")


class NodeReservedNetworkResources(ApiModel):
    """Host ports a node keeps for itself, e.g. ``"22,80,8000-8010"``."""

    reserved_host_ports: str = ""


class NodeReservedResources(ApiModel):
    """Resources a node keeps for itself, subtracted from :class:`NodeResources`."""

    cpu: NodeReservedCpuResources | None = Field(default=None, alias="Cpu")
    memory: NodeMemoryResources | None = None
    disk: NodeDiskResources | None = None
    networks: NodeReservedNetworkResources | None = None


class DrainStrategy(ApiModel):
    """An active drain: ``deadline`` in nanoseconds (-1 forces, 0 waits forever)."""

    deadline: int = 0
    ignore_system_jobs: bool = False
    force_deadline: GoTime = None
    started_at: GoTime = None


class NodeEvent(ApiModel):
    """One entry of a node's event history."""

    message: str = ""
    subsystem: str = ""
    details: dict[str, str] | None = None
    timestamp: GoTime = None
    create_index: int = 0


class Node(ApiModel):
    """A client node (``GET /v1/node/:id``)."""

    id: str = ""
    secret_id: str = ""
    datacenter: str = ""
    name: str = ""
    http_addr: str = ""
    tls_enabled: bool = False
    attributes: dict[str, str] | None = None
    node_resources: NodeResources | None = None
    reserved_resources: NodeReservedResources | None = None
    links: dict[str, str] | None = None
    meta: dict[str, str] | None = None
    node_class: str = ""
    node_pool: str = ""
    computed_class: str = ""
    drain: bool = False
    drain_strategy: DrainStrategy | None = None
    scheduling_eligibility: str = NODE_ELIGIBLE
    status: str = NODE_STATUS_INIT
    status_description: str = ""
    status_updated_at: int = 0
    events: list[NodeEvent] | None = None
    drivers: dict[str, DriverInfo] | None = None
    host_volumes: dict[str, Any] | None = None
    host_networks: dict[str, Any] | None = None
    last_drain: dict[str, Any] | None = None
    create_index: int = 0
    modify_index: int = 0

    def compute_class(self) -> str:
        """The node's computed class: equal for nodes that are interchangeable for placement.

        Covers datacenter, class, pool, drivers, and attributes and meta whose keys do not
        start with ``unique.`` (as in Nomad, so per-node values do not split classes).
        """
        h = hashlib.sha256()
        parts: list[tuple[str, str]] = [
            ("dc", self.datacenter),
            ("class", self.node_class),
            ("pool", self.node_pool),
        ]
        for prefix, mapping in (("attr", self.attributes), ("meta", self.meta)):
            parts.extend((f"{prefix}.{k}", v) for k, v in (mapping or {}).items() if not _unique(k))
        for name, info in (self.drivers or {}).items():
            parts.append((f"driver.{name}", f"{info.detected}/{info.healthy}"))
        for key, value in sorted(parts):
            h.update(f"{key}\0{value}\0".encode())
        return f"v1:{int.from_bytes(h.digest()[:8], 'big')}"

    def address(self) -> str:
        """The host part of ``http_addr`` (``NodeListStub.Address``)."""
        host = self.http_addr.rsplit(":", 1)[0] if ":" in self.http_addr else self.http_addr
        return host.strip("[]")

    def stub(self) -> dict[str, Any]:
        """Nomad's ``NodeListStub`` JSON, as ``GET /v1/nodes`` lists it."""
        data = self.to_api()
        return {
            "Address": self.address(),
            "ID": self.id,
            "Attributes": None,
            "Datacenter": self.datacenter,
            "Name": self.name,
            "NodeClass": self.node_class,
            "NodePool": self.node_pool,
            "Version": (self.attributes or {}).get("nomad.version", ""),
            "Drain": self.drain_strategy is not None,
            "SchedulingEligibility": self.scheduling_eligibility,
            "Status": self.status,
            "StatusDescription": self.status_description,
            "Drivers": data["Drivers"],
            "HostVolumes": self.host_volumes,
            "NodeResources": data["NodeResources"],
            "ReservedResources": data["ReservedResources"],
            "LastDrain": self.last_drain,
            "CreateIndex": self.create_index,
            "ModifyIndex": self.modify_index,
        }


def _unique(key: str) -> bool:
    return key.startswith("unique.")
