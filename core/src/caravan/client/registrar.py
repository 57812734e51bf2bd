"""``ServiceRegistrar``: keeps the servers' service catalog in line with what this client
wants registered.

Allocations say what they want (:meth:`ServiceRegistrar.register`,
:meth:`ServiceRegistrar.deregister`) without waiting; one background loop sends the
changes, in order, batching registrations into one ``service_upsert`` call, and retries
with backoff while no server answers. Only the latest wish per registration ID travels: a
check that flaps faster than the servers answer costs one call, not one per result.
Registrations are kept in caravan's built-in catalog whatever the service's ``provider``
(``consul`` or ``nomad``), so ``/v1/service/<name>`` lists them either way.
"""

from __future__ import annotations

import asyncio
import logging

from caravan.structs import ServiceRegistration

from .rpc import ServerRPC

log = logging.getLogger(__name__)

RETRY_MIN, RETRY_MAX = 0.2, 10.0


class ServiceRegistrar:
    """One per client agent; :meth:`run` is its background loop.

    :param rpc: the servers (``service_upsert``, ``service_delete``).
    """

    def __init__(self, rpc: ServerRPC) -> None:
        self.rpc = rpc
        #: What the servers were last told, by registration ID.
        self.registered: dict[str, ServiceRegistration] = {}
        # Latest wish per ID: a registration to upsert, or one to delete (False).
        self._pending: dict[str, tuple[ServiceRegistration, bool]] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def register(self, regs: list[ServiceRegistration]) -> None:
        """Ask for these instances to be registered (or updated); unchanged ones cost nothing."""
        for reg in regs:
            if self.registered.get(reg.id) == reg and reg.id not in self._pending:
                continue
            self._pending[reg.id] = (reg, True)
        self._kick()

    def deregister(self, regs: list[ServiceRegistration]) -> None:
        """Ask for these instances to be removed from the catalog."""
        for reg in regs:
            self._pending[reg.id] = (reg, False)
        self._kick()

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until every wish so far reached the servers (or ``timeout`` passed)."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    async def run(self) -> None:
        """Send pending changes until cancelled."""
        delay = RETRY_MIN
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, {}
            try:
                await self._send(batch)
                delay = RETRY_MIN
            except Exception as exc:
                log.warning("service registration failed: %s; retrying in %.1fs", exc, delay)
                # Newer wishes made meanwhile win over the failed ones.
                self._pending = {**batch, **self._pending}
                self._idle.clear()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                self._wake.set()
                continue
            if not self._pending:
                self._idle.set()

    def _kick(self) -> None:
        if self._pending:
            self._idle.clear()
            self._wake.set()

    async def _send(self, batch: dict[str, tuple[ServiceRegistration, bool]]) -> None:
        upserts = [reg for reg, keep in batch.values() if keep]
        if upserts:
            await self.rpc.service_upsert(upserts)
            for reg in upserts:
                self.registered[reg.id] = reg
        for reg_id, (reg, keep) in batch.items():
            if keep:
                continue
            try:
                await self.rpc.service_delete(reg.namespace, reg.service_name, reg_id)
            except Exception as exc:
                # Already gone (the servers remove a collected allocation's services).
                if not _is_not_found(exc):
                    raise
            self.registered.pop(reg_id, None)


def _is_not_found(exc: Exception) -> bool:
    return type(exc).__name__ in ("NotFoundError", "NotFound") or "not found" in str(exc)
