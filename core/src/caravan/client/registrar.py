"""``ServiceRegistrar``: keeps the servers' built-in service catalog in line with what this
client wants registered (see :class:`~caravan.client.publisher.Publisher` for the queueing).

Registrations are batched into one ``service_upsert`` call per pass. Services go here unless
their ``provider`` names a discovery plugin the agent publishes through
(:class:`~caravan.client.service_router.ServiceRouter`).
"""

from __future__ import annotations

from .publisher import Publisher, Wish
from .rpc import ServerRPC


class ServiceRegistrar(Publisher):
    """One per client agent.

    :param rpc: the servers (``service_upsert``, ``service_delete``).
    """

    catalog = "servers' catalog"

    def __init__(self, rpc: ServerRPC) -> None:
        super().__init__()
        self.rpc = rpc

    async def _send(self, batch: dict[str, Wish]) -> None:
        upserts = [wish.reg for wish in batch.values() if wish.keep]
        if upserts:
            await self.rpc.service_upsert(upserts)
            for reg in upserts:
                self.registered[reg.id] = reg
        for reg_id, wish in batch.items():
            if wish.keep:
                continue
            reg = wish.reg
            try:
                await self.rpc.service_delete(reg.namespace, reg.service_name, reg_id)
            except Exception as exc:
                # Already gone (the servers remove a collected allocation's services).
                if not _is_not_found(exc):
                    raise
            self.registered.pop(reg_id, None)


def _is_not_found(exc: Exception) -> bool:
    return type(exc).__name__ in ("NotFoundError", "NotFound") or "not found" in str(exc)
