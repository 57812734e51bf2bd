"""The client agent's view of the servers: the endpoints it calls, as a protocol.

In-process this is :class:`caravan.server.Server` itself; across processes it is
:class:`caravan.rpc.RPCClient`, which carries the same calls over the RPC port and fails over
between servers. The client depends only on this protocol, so tests can drive it with a
fake server.
"""

from __future__ import annotations

from typing import Any, Protocol

from caravan.structs import Allocation, Node, ServiceRegistration


class ServerRPC(Protocol):
    """The node and allocation endpoints a client agent calls (Nomad's ``Node.*`` and
    ``Alloc.*`` RPCs). Every call may raise ``OSError``/``ConnectionError`` when no server
    answers; the client retries with backoff."""

    async def node_register(self, node: Node) -> dict[str, Any]:
        """Register or refresh the node; the answer carries ``HeartbeatTTL`` (seconds)."""
        ...

    async def node_heartbeat(self, node_id: str) -> dict[str, Any]:
        """Re-arm the node's heartbeat timer; the answer carries ``HeartbeatTTL``."""
        ...

    async def node_get_client_allocs(
        self, node_id: str, min_index: int, wait: float
    ) -> tuple[int, dict[str, int]]:
        """Block until an allocation of the node changed after ``min_index`` or ``wait``
        seconds passed; returns the index and ``{alloc id: AllocModifyIndex}``."""
        ...

    async def allocs_get(self, alloc_ids: list[str]) -> list[Allocation]:
        """The allocations with these IDs, each with its ``job`` embedded."""
        ...

    async def alloc_client_update(self, allocs: list[dict[str, Any]]) -> int:
        """Report ``ClientStatus``, ``TaskStates``... of several allocations at once."""
        ...

    async def node_update_drivers(self, node_id: str, drivers: dict[str, Any]) -> dict[str, Any]:
        """Replace the node's driver health (``{name: DriverInfo JSON}``)."""
        ...

    async def service_upsert(self, regs: list[ServiceRegistration]) -> int:
        """Register service instances with the built-in discovery."""
        ...

    async def service_delete(self, namespace: str, service_name: str, reg_id: str) -> int:
        """Remove one service instance."""
        ...
