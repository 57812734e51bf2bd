"""The discovery and load balancer suites, run against small in-memory implementations,
and LoadBalancer.apply's guarantees."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from caravan_plugins import (
    ConfigRejectedError,
    DiscoveryBackend,
    LoadBalancer,
    RenderOptions,
    ServiceInstance,
    ValidationResult,
)
from caravan_plugins.services import CheckStatus
from caravan_plugins.testing import DiscoveryBackendConformance, LoadBalancerConformance


class MemoryBackend(DiscoveryBackend):
    """Instances in a dict; a condition wakes watchers on every change."""

    name = "memory"

    def __init__(self, config: object = None) -> None:
        super().__init__()
        self._instances: dict[str, ServiceInstance] = {}
        self._index = 1
        self._changed = asyncio.Condition()

    async def _bump(self) -> None:
        async with self._changed:
            self._index += 1
            self._changed.notify_all()

    async def register(self, instance: ServiceInstance) -> None:
        self._instances[instance.id] = instance
        await self._bump()

    async def deregister(self, instance_id: str) -> None:
        if self._instances.pop(instance_id, None):
            await self._bump()

    async def update_check_status(
        self, instance_id: str, check: str, status: CheckStatus, output: str = ""
    ) -> None:
        inst = self._instances[instance_id]
        self._instances[instance_id] = inst.model_copy(
            update={"checks": {**inst.checks, check: status}}
        )
        await self._bump()

    async def list_instances(
        self, service: str | None = None, passing_only: bool = False
    ) -> list[ServiceInstance]:
        return sorted(
            (
                i
                for i in self._instances.values()
                if (service is None or i.service == service)
                and (not passing_only or i.health == "passing")
            ),
            key=lambda i: (i.service, i.id),
        )

    async def watch(
        self, service: str | None = None, index: int = 0, wait: float = 300.0
    ) -> tuple[int, list[ServiceInstance]]:
        async with self._changed:
            # Nothing new within ``wait`` is an answer too: the unchanged list.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self._index > index), wait)
        return self._index, await self.list_instances(service)


class TestMemoryBackend(DiscoveryBackendConformance):
    backend_class = MemoryBackend


class LinesBalancer(LoadBalancer):
    """One ``server service address:port`` line per passing instance."""

    name = "lines"
    default_path = "/etc/lines/lines.conf"

    def __init__(self, config: object = None) -> None:
        super().__init__()
        self.reloads: list[Path] = []

    def render(self, instances: list[ServiceInstance], options: RenderOptions) -> str:
        chosen = [i for i in instances if not options.passing_only or i.health == "passing"]
        lines = sorted(f"server {i.service} {i.address}:{i.port}" for i in chosen)
        return "\n".join(lines) + "\n"

    async def validate(self, config_text: str) -> ValidationResult:
        bad = [
            f"line {n}: expected 'server NAME ADDR:PORT'"
            for n, line in enumerate(config_text.splitlines(), 1)
            if not line.startswith("server ") or len(line.split()) != 3
        ]
        return ValidationResult(errors=bad)

    async def reload(self, path: Path) -> None:
        self.reloads.append(path)


class TestLinesBalancer(LoadBalancerConformance):
    lb_class = LinesBalancer

    def routed_instances(self) -> list[ServiceInstance]:
        return [
            ServiceInstance(id="web-1", service="web", address="127.0.0.1", port=21001),
            ServiceInstance(id="web-2", service="web", address="127.0.0.1", port=21002),
        ]


class RejectingBalancer(LinesBalancer):
    async def validate(self, config_text: str) -> ValidationResult:
        return ValidationResult(errors=["unknown directive 'server' in line 1"])


async def test_apply_reloads_only_on_change(tmp_path: Path) -> None:
    lb = LinesBalancer()
    path = tmp_path / "lines.conf"
    one = [ServiceInstance(id="a", service="web", address="10.0.0.1", port=80)]
    two = [*one, ServiceInstance(id="b", service="web", address="10.0.0.2", port=80)]
    assert await lb.apply(one, path=path)
    assert not await lb.apply(one, path=path)
    assert await lb.apply(two, path=path)
    assert lb.reloads == [path, path]
    assert path.read_text() == "server web 10.0.0.1:80\nserver web 10.0.0.2:80\n"


async def test_rejected_config_leaves_live_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "lines.conf"
    path.write_text("server web 10.0.0.1:80\n")
    lb = RejectingBalancer()
    instances = [ServiceInstance(id="a", service="web", address="10.0.0.9", port=80)]
    with pytest.raises(ConfigRejectedError, match="lines rejected the rendered config"):
        await lb.apply(instances, path=path)
    assert path.read_text() == "server web 10.0.0.1:80\n"
    assert lb.reloads == []
    assert [p.name for p in tmp_path.iterdir()] == ["lines.conf"]
