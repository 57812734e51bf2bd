"""The conformance suite every discovery backend runs in its own tests.

Subclass :class:`DiscoveryBackendConformance` as ``Test...`` and set ``backend_class`` and
``backend_config``; override :meth:`DiscoveryBackendConformance.new_backend` when the backend
needs more set-up (a Consul agent address, a server). Service names are unique per test, so
the suite can run against a shared real backend.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from ..discovery import DiscoveryBackend
from ..services import ServiceInstance


class DiscoveryBackendConformance:
    """Behaviour every :class:`DiscoveryBackend` must have."""

    backend_class: ClassVar[type[DiscoveryBackend]]
    backend_config: ClassVar[dict[str, Any]] = {}
    #: How long a blocking watch is given to notice a change, in seconds.
    patience: ClassVar[float] = 10.0

    async def new_backend(self) -> DiscoveryBackend:
        """A backend ready to use; the default builds it from ``backend_config``."""
        return self.backend_class.from_config(self.backend_config)

    @pytest.fixture
    async def backend(self) -> AsyncIterator[DiscoveryBackend]:
        backend = await self.new_backend()
        registered: list[str] = []
        original = backend.register

        async def tracking_register(instance: ServiceInstance) -> None:
            registered.append(instance.id)
            await original(instance)

        backend.register = tracking_register  # type: ignore[method-assign]
        try:
            yield backend
        finally:
            for instance_id in registered:
                await backend.deregister(instance_id)

    @pytest.fixture
    def service(self) -> str:
        return f"conformance-{uuid.uuid4().hex[:8]}"

    @staticmethod
    def instance(service: str, n: int = 1, **fields: Any) -> ServiceInstance:
        """An instance of ``service`` on 127.0.0.1, port 20000+n."""
        return ServiceInstance(
            id=f"{service}-{n}",
            service=service,
            address="127.0.0.1",
            port=20000 + n,
            job_id="example",
            group="web",
            task="server",
            alloc_id=str(uuid.uuid4()),
            **fields,
        )

    async def test_register_then_list(self, backend: DiscoveryBackend, service: str) -> None:
        inst = self.instance(service, tags=["urlprefix-/"], meta={"version": "1"})
        await backend.register(inst)
        (listed,) = await backend.list_instances(service)
        assert (listed.id, listed.address, listed.port) == (inst.id, "127.0.0.1", inst.port)
        assert listed.tags == ["urlprefix-/"]
        assert listed.meta == {"version": "1"}

    async def test_register_same_id_replaces(self, backend: DiscoveryBackend, service: str) -> None:
        await backend.register(self.instance(service, tags=["v1"]))
        await backend.register(self.instance(service, tags=["v2"]))
        assert [i.tags for i in await backend.list_instances(service)] == [["v2"]]

    async def test_deregister(self, backend: DiscoveryBackend, service: str) -> None:
        await backend.register(self.instance(service, 1))
        await backend.register(self.instance(service, 2))
        await backend.deregister(f"{service}-1")
        assert [i.id for i in await backend.list_instances(service)] == [f"{service}-2"]
        await backend.deregister(f"{service}-1")

    async def test_list_filters_and_orders(self, backend: DiscoveryBackend, service: str) -> None:
        other = service + "-other"
        for inst in (self.instance(other, 1), self.instance(service, 2), self.instance(service, 1)):
            await backend.register(inst)
        assert [i.id for i in await backend.list_instances(service)] == [
            f"{service}-1",
            f"{service}-2",
        ]
        ours = [i.id for i in await backend.list_instances() if i.service in (service, other)]
        assert ours == [f"{service}-1", f"{service}-2", f"{other}-1"]

    async def test_check_status_drives_health(
        self, backend: DiscoveryBackend, service: str
    ) -> None:
        await backend.register(self.instance(service, 1, checks={"alive": "passing"}))
        await backend.register(self.instance(service, 2, checks={"alive": "passing"}))
        await backend.update_check_status(f"{service}-2", "alive", "critical", "connection refused")
        by_id = {i.id: i for i in await backend.list_instances(service)}
        assert by_id[f"{service}-2"].health == "critical"
        passing = await backend.list_instances(service, passing_only=True)
        assert [i.id for i in passing] == [f"{service}-1"]
        await backend.update_check_status(f"{service}-2", "alive", "warning")
        assert [i.id for i in await backend.list_instances(service, passing_only=True)] == [
            f"{service}-1"
        ]

    async def test_check_status_of_unknown_instance(self, backend: DiscoveryBackend) -> None:
        with pytest.raises(KeyError):
            await backend.update_check_status("no-such-instance", "alive", "passing")

    async def test_watch_returns_at_once_for_index_zero(
        self, backend: DiscoveryBackend, service: str
    ) -> None:
        await backend.register(self.instance(service))
        started = time.monotonic()
        index, instances = await backend.watch(service, index=0, wait=self.patience)
        assert time.monotonic() - started < self.patience / 2
        assert index > 0
        assert [i.id for i in instances] == [f"{service}-1"]

    async def test_watch_times_out_without_change(
        self, backend: DiscoveryBackend, service: str
    ) -> None:
        await backend.register(self.instance(service))
        index, _ = await backend.watch(service, index=0, wait=0.1)
        again, instances = await backend.watch(service, index=index, wait=0.2)
        assert again >= index
        assert [i.id for i in instances] == [f"{service}-1"]

    async def test_watch_wakes_on_change(self, backend: DiscoveryBackend, service: str) -> None:
        await backend.register(self.instance(service, 1))
        index, _ = await backend.watch(service, index=0, wait=0.1)

        async def later() -> None:
            await asyncio.sleep(0.1)
            await backend.register(self.instance(service, 2))

        writer = asyncio.create_task(later())
        started = time.monotonic()
        new_index = index
        ids: list[str] = []
        # Backends may wake for unrelated changes; keep watching until ours shows up.
        while len(ids) < 2 and time.monotonic() - started < self.patience:
            new_index, instances = await backend.watch(service, index=new_index, wait=1.0)
            ids = [i.id for i in instances]
        await writer
        assert new_index > index
        assert ids == [f"{service}-1", f"{service}-2"]
