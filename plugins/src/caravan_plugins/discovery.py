"""The discovery backend contract: where the client publishes service instances.

The agent config picks one backend by name (``builtin``, ``consul``). The client registers an
instance when a task with a ``service {}`` block starts, updates its checks as they run, and
deregisters it when the task stops. Load balancers and the services API read through
:meth:`DiscoveryBackend.list_instances` and :meth:`DiscoveryBackend.watch`. Every method runs
on the agent's asyncio loop.
"""

from __future__ import annotations

from abc import abstractmethod

from .base import ConfigurablePlugin
from .services import CheckStatus, ServiceInstance


class DiscoveryBackend(ConfigurablePlugin):
    """Base class of every discovery backend. Subclasses set ``name`` and ``config_schema``."""

    @abstractmethod
    async def register(self, instance: ServiceInstance) -> None:
        """Add ``instance``, or replace the instance with the same ``id``."""

    @abstractmethod
    async def deregister(self, instance_id: str) -> None:
        """Remove an instance. Removing an unknown id is a no-op, so retries are safe."""

    @abstractmethod
    async def update_check_status(
        self, instance_id: str, check: str, status: CheckStatus, output: str = ""
    ) -> None:
        """Record the latest result of one check of one instance.

        :param output: the check's output, kept for people reading the status.
        :raises KeyError: the instance is not registered.
        """

    @abstractmethod
    async def list_instances(
        self, service: str | None = None, passing_only: bool = False
    ) -> list[ServiceInstance]:
        """Return registered instances, ordered by service name then id.

        :param service: only instances of this service; ``None`` for all.
        :param passing_only: leave out instances whose ``health`` is not ``passing``.
        """

    @abstractmethod
    async def watch(
        self, service: str | None = None, index: int = 0, wait: float = 300.0
    ) -> tuple[int, list[ServiceInstance]]:
        """A blocking query, in the style of Nomad's and Consul's ``?index=&wait=``.

        Returns as soon as the instances of ``service`` (all services when ``None``) change
        after ``index``, or after ``wait`` seconds with nothing new.

        :param index: the index from the previous call; 0 returns at once.
        :returns: ``(new_index, instances)``; ``new_index`` is greater than ``index``
            when something changed, and never smaller than it.
        """
