"""``BackendPublisher``: keeps a discovery plugin's catalog (a Consul agent, ...) in line with
what this client wants registered for the services whose ``provider`` names it.

Each registration becomes a :class:`~caravan_plugins.ServiceInstance` registered with the
backend, its check statuses included. When only check statuses changed since the backend was
last told, just those are reported (:meth:`DiscoveryBackend.update_check_status`: a TTL
update in Consul) instead of registering the instance again.
"""

from __future__ import annotations

from caravan.structs import ServiceRegistration
from caravan_plugins import DiscoveryBackend, ServiceInstance

from .publisher import Publisher, Wish


def to_instance(reg: ServiceRegistration, group: str = "", task: str = "") -> ServiceInstance:
    """The discovery plugins' view of one registration of this client."""
    return ServiceInstance(
        id=reg.id,
        service=reg.service_name,
        namespace=reg.namespace or "default",
        node_id=reg.node_id,
        datacenter=reg.datacenter or "dc1",
        job_id=reg.job_id,
        group=group,
        task=task,
        alloc_id=reg.alloc_id,
        address=reg.address,
        port=reg.port,
        tags=list(reg.tags or []),
        meta=dict(reg.meta or {}),
        checks=dict(reg.checks or {}),
    )


def _same_but_checks(a: ServiceRegistration, b: ServiceRegistration) -> bool:
    return a.model_copy(update={"checks": None}) == b.model_copy(update={"checks": None})


class BackendPublisher(Publisher):
    """Publishes through one loaded discovery backend; named after it in logs."""

    def __init__(self, backend: DiscoveryBackend) -> None:
        super().__init__()
        self.backend = backend
        self.catalog = f"{backend.name!r} discovery backend"

    async def _send(self, batch: dict[str, Wish]) -> None:
        for reg_id, wish in batch.items():
            if not wish.keep:
                await self.backend.deregister(reg_id)
                self.registered.pop(reg_id, None)
                continue
            reg, before = wish.reg, self.registered.get(reg_id)
            if before is not None and _same_but_checks(before, reg):
                old = before.checks or {}
                for name, status in (reg.checks or {}).items():
                    if old.get(name) != status:
                        await self.backend.update_check_status(reg_id, name, status)  # type: ignore[arg-type]
            else:
                await self.backend.register(to_instance(reg, wish.group, wish.task))
            self.registered[reg_id] = reg
