"""The ``consul`` discovery backend: service instances registered with a Consul agent.

Not available in this release: only its configuration is. Its schema is validated at agent
start, so an agent config written for it is checked now; every operation raises
:class:`PluginError` saying the backend is not available yet. Use ``builtin`` meanwhile.
"""

from __future__ import annotations

from typing import ClassVar, NoReturn

from caravan_plugins import DiscoveryBackend, PluginError, ServiceInstance
from caravan_plugins.services import CheckStatus

from .config import ConsulConfig

NOT_AVAILABLE = (
    "the consul discovery backend is not available in this release of caravan yet; "
    'use discovery "builtin"'
)


class ConsulDiscovery(DiscoveryBackend):
    """Entry point ``consul`` in ``caravan.discovery``: config schema only, for now."""

    name: ClassVar[str] = "consul"
    config_schema = ConsulConfig

    async def register(self, instance: ServiceInstance) -> None:
        """:raises PluginError: always; the backend is not available yet."""
        _unavailable()

    async def deregister(self, instance_id: str) -> None:
        """:raises PluginError: always; the backend is not available yet."""
        _unavailable()

    async def update_check_status(
        self, instance_id: str, check: str, status: CheckStatus, output: str = ""
    ) -> None:
        """:raises PluginError: always; the backend is not available yet."""
        _unavailable()

    async def list_instances(
        self, service: str | None = None, passing_only: bool = False
    ) -> list[ServiceInstance]:
        """:raises PluginError: always; the backend is not available yet."""
        _unavailable()

    async def watch(
        self, service: str | None = None, index: int = 0, wait: float = 300.0
    ) -> tuple[int, list[ServiceInstance]]:
        """:raises PluginError: always; the backend is not available yet."""
        _unavailable()


def _unavailable() -> NoReturn:
    raise PluginError(NOT_AVAILABLE)
