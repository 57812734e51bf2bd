"""The client agent's configuration: Nomad's ``client { ... }`` block, as caravan reads it."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class ReservedConfig(BaseModel):
    """``client { reserved { ... } }``: what the node keeps for itself (MHz, MB, ports)."""

    model_config = ConfigDict(extra="forbid")

    cpu: int = 0
    memory: int = 0
    disk: int = 0
    reserved_ports: str = ""


class ClientConfig(BaseModel):
    """Everything a :class:`~caravan.client.Client` needs besides its servers and drivers.

    :ivar data_dir: the agent's data directory; allocations live in ``<data_dir>/alloc``,
        the client state in ``<data_dir>/client/state.db``.
    :ivar region, datacenter, node_name, node_class, node_pool, meta: the node's identity;
        an empty ``node_name`` means the host name.
    :ivar network_interface: the interface whose address tasks advertise; empty picks the
        address used to reach the servers (``127.0.0.1`` in dev mode).
    :ivar network_address: an explicit advertise address, overriding ``network_interface``.
    :ivar cpu_total_compute, memory_total_mb: override fingerprinted values (0 = detect).
    :ivar min_dynamic_port, max_dynamic_port: the range dynamic ports are picked from.
    :ivar update_interval: how long allocation status changes are batched before they are
        sent to the servers (Nomad's 200 ms).
    :ivar fingerprint_interval: seconds between driver re-fingerprints.
    :ivar alloc_watch_wait: how long one blocking allocation query waits at most.
    :ivar gc_interval: seconds between removals of the directories of allocations the
        servers no longer list for this node.
    :ivar env_denylist: host environment variables never passed to tasks of drivers
        without filesystem isolation.
    :ivar service_providers: service ``provider`` -> the discovery plugin publishing the
        services that name it (``{"consul": "consul"}`` when the agent configures the Consul
        plugin); services of other providers go to the servers' built-in catalog.
    """

    model_config = ConfigDict(extra="forbid")

    data_dir: Path
    region: str = "global"
    datacenter: str = "dc1"
    node_name: str = ""
    node_class: str = ""
    node_pool: str = "default"
    meta: dict[str, str] = Field(default_factory=dict)
    http_addr: str = "127.0.0.1:4646"
    network_interface: str = ""
    network_address: str = ""
    cpu_total_compute: int = 0
    memory_total_mb: int = 0
    reserved: ReservedConfig = Field(default_factory=ReservedConfig)
    min_dynamic_port: int = 20000
    max_dynamic_port: int = 32000
    update_interval: float = 0.2
    fingerprint_interval: float = 30.0
    alloc_watch_wait: float = 300.0
    gc_interval: float = 60.0
    env_denylist: list[str] = Field(
        default_factory=lambda: ["CONSUL_TOKEN", "VAULT_TOKEN", "NOMAD_TOKEN", "CARAVAN_TOKEN"]
    )

    service_providers: dict[str, str] = Field(default_factory=dict)

    @property
    def alloc_root(self) -> Path:
        """Where allocation directories are created."""
        return self.data_dir / "alloc"

    @property
    def state_path(self) -> Path:
        """The client state database."""
        return self.data_dir / "client" / "state.db"
