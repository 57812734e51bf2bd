"""``Publisher``: keeps one service catalog in line with what this client wants registered.

Allocations say what they want (:meth:`Publisher.register`, :meth:`Publisher.deregister`)
without waiting; one background loop (:meth:`Publisher.run`) sends the changes, in order,
and retries with backoff while the catalog does not answer. Only the latest wish per
registration ID travels: a check that flaps faster than the catalog answers costs one call,
not one per result.

Subclasses say how a batch of wishes reaches their catalog (:meth:`Publisher._send`): the
servers' built-in catalog (:class:`~caravan.client.registrar.ServiceRegistrar`) or a
discovery plugin such as Consul (:class:`~caravan.client.backend_publisher.BackendPublisher`).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass

from caravan.structs import ServiceRegistration

log = logging.getLogger(__name__)

RETRY_MIN, RETRY_MAX = 0.2, 10.0


@dataclass(frozen=True, slots=True)
class Wish:
    """The latest wish for one registration: keep it registered as ``reg`` or remove it.

    ``group`` and ``task`` say which task group and task (empty for a group service) own the
    instance, for catalogs that record it.
    """

    reg: ServiceRegistration
    keep: bool
    group: str = ""
    task: str = ""


class Publisher(ABC):
    """One catalog's registrations of this client; :meth:`run` is its background loop."""

    #: Names the catalog in logs.
    catalog = "service catalog"

    def __init__(self) -> None:
        #: What the catalog was last told, by registration ID.
        self.registered: dict[str, ServiceRegistration] = {}
        self._pending: dict[str, Wish] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def register(self, regs: list[ServiceRegistration], group: str = "", task: str = "") -> None:
        """Ask for these instances (of ``group`` and ``task``) to be registered or updated;
        unchanged ones cost nothing."""
        for reg in regs:
            if self.registered.get(reg.id) == reg and reg.id not in self._pending:
                continue
            self._pending[reg.id] = Wish(reg, True, group, task)
        self._kick()

    def deregister(self, regs: list[ServiceRegistration]) -> None:
        """Ask for these instances to be removed from the catalog."""
        for reg in regs:
            self._pending[reg.id] = Wish(reg, False)
        self._kick()

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until every wish so far reached the catalog (or ``timeout`` passed)."""
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
                log.warning(
                    "registering services with the %s failed: %s; retrying in %.1fs",
                    self.catalog,
                    exc,
                    delay,
                )
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

    @abstractmethod
    async def _send(self, batch: dict[str, Wish]) -> None:
        """Apply ``batch`` to the catalog and update :attr:`registered` for what succeeded;
        raise to have the whole batch retried (so each step must be safe to repeat)."""
