"""The ``builtin`` discovery backend: service instances kept by the agent itself.

It needs no other software, which makes it the backend of ``caravan agent -dev`` and of
tests. Instances live in the memory of the agent process and are lost when it stops (the
client registers them again when it restores its tasks). Every change increments one index,
so :meth:`BuiltinDiscovery.watch` behaves like a Nomad or Consul blocking query.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import ClassVar

from caravan_plugins import DiscoveryBackend, EmptyConfig, ServiceInstance
from caravan_plugins.services import CheckStatus


class BuiltinDiscovery(DiscoveryBackend):
    """Entry point ``builtin`` in ``caravan.discovery``. Takes no configuration."""

    name: ClassVar[str] = "builtin"
    config_schema = EmptyConfig

    def __init__(self, config: EmptyConfig | None = None) -> None:
        super().__init__(config)
        self._instances: dict[str, ServiceInstance] = {}
        # The index at which each service last changed, so a watch on one service does not
        # wake for another; a removed service keeps its entry so its watchers see the removal.
        self._service_index: dict[str, int] = {}
        self._index = 0
        self._changed = asyncio.Condition()

    async def register(self, instance: ServiceInstance) -> None:
        """Add ``instance`` or replace the one with the same id (moving it to a new service
        if its name changed)."""
        previous = self._instances.get(instance.id)
        self._instances[instance.id] = instance.model_copy(deep=True)
        await self._bump(instance.service, previous.service if previous else None)

    async def deregister(self, instance_id: str) -> None:
        """Remove the instance; an unknown id is a no-op."""
        removed = self._instances.pop(instance_id, None)
        if removed is not None:
            await self._bump(removed.service)

    async def update_check_status(
        self, instance_id: str, check: str, status: CheckStatus, output: str = ""
    ) -> None:
        """Record ``status`` as the latest result of ``check``.

        :raises KeyError: no instance has this id.
        """
        instance = self._instances.get(instance_id)
        if instance is None:
            raise KeyError(f"service instance {instance_id!r} is not registered")
        if instance.checks.get(check) == status:
            return
        instance.checks[check] = status
        await self._bump(instance.service)

    async def list_instances(
        self, service: str | None = None, passing_only: bool = False
    ) -> list[ServiceInstance]:
        """Copies of the registered instances, ordered by service name then id."""
        selected = [
            i.model_copy(deep=True)
            for i in self._instances.values()
            if (service is None or i.service == service)
            and (not passing_only or i.health == "passing")
        ]
        return sorted(selected, key=lambda i: (i.service, i.id))

    async def watch(
        self, service: str | None = None, index: int = 0, wait: float = 300.0
    ) -> tuple[int, list[ServiceInstance]]:
        """Return once ``service`` (any service when None) changed after ``index``, or after
        ``wait`` seconds; the returned index is that of the last change seen."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._last_change(service) > index), wait
                )
            current = max(self._last_change(service), index)
        return current, await self.list_instances(service)

    def _last_change(self, service: str | None) -> int:
        if service is None:
            return self._index
        return self._service_index.get(service, 0)

    async def _bump(self, *services: str | None) -> None:
        async with self._changed:
            self._index += 1
            for service in services:
                if service is not None:
                    self._service_index[service] = self._index
            self._changed.notify_all()
