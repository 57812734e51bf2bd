"""What a client tells a discovery plugin as its services change: whole registrations when
anything but check statuses changed, TTL-style status reports when only those did, and
retries (latest wish winning) while the backend fails. The real Consul plugin against a real
agent is exercised by ``tests/e2e/test_consul_provider.py``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from caravan.client.backend_publisher import BackendPublisher
from caravan.client.publisher import RETRY_MIN
from caravan.client.service_router import ServiceRouter
from caravan.structs import ServiceRegistration
from caravan.structs.services import Service
from caravan_plugins import DiscoveryBackend, ServiceInstance


class RecordingBackend(DiscoveryBackend):
    """Records calls; fails the next ``fail`` calls."""

    name: ClassVar[str] = "recording"

    def __init__(self) -> None:
        super().__init__(None)
        self.calls: list[tuple[Any, ...]] = []
        self.fail = 0

    def _record(self, *call: Any) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("agent unreachable")
        self.calls.append(call)

    async def register(self, instance: ServiceInstance) -> None:
        self._record("register", instance)

    async def deregister(self, instance_id: str) -> None:
        self._record("deregister", instance_id)

    async def update_check_status(
        self, instance_id: str, check: str, status: Any, output: str = ""
    ) -> None:
        self._record("check", instance_id, check, status)

    async def list_instances(
        self, service: str | None = None, passing_only: bool = False
    ) -> list[ServiceInstance]:
        return []

    async def watch(
        self, service: str | None = None, index: int = 0, wait: float = 300.0
    ) -> tuple[int, list[ServiceInstance]]:
        return index, []


def _reg(**changes: Any) -> ServiceRegistration:
    base = ServiceRegistration(
        id="_nomad-task-a1-group-web-shop-http",
        service_name="shop",
        namespace="default",
        node_id="n1",
        datacenter="dc1",
        job_id="shop",
        alloc_id="a1",
        tags=["v1"],
        address="10.0.0.5",
        port=23456,
        checks={"alive": "critical"},
    )
    return base.model_copy(update=changes)


@pytest.fixture
async def published() -> AsyncIterator[tuple[BackendPublisher, RecordingBackend]]:
    backend = RecordingBackend()
    publisher = BackendPublisher(backend)
    loop = asyncio.create_task(publisher.run())
    yield publisher, backend
    loop.cancel()


async def test_a_registration_becomes_an_instance_of_its_group_and_task(published: Any) -> None:
    publisher, backend = published
    publisher.register([_reg()], group="web", task="server")
    await publisher.flush()
    [(verb, instance)] = backend.calls
    assert verb == "register"
    assert (instance.id, instance.service, instance.address, instance.port) == (
        "_nomad-task-a1-group-web-shop-http",
        "shop",
        "10.0.0.5",
        23456,
    )
    assert (instance.job_id, instance.group, instance.task, instance.alloc_id) == (
        "shop",
        "web",
        "server",
        "a1",
    )
    assert instance.tags == ["v1"]
    assert instance.checks == {"alive": "critical"}


async def test_only_check_changes_are_reported_as_statuses(published: Any) -> None:
    publisher, backend = published
    publisher.register([_reg()], group="web")
    await publisher.flush()
    publisher.register([_reg()], group="web")  # unchanged: nothing sent
    publisher.register([_reg(checks={"alive": "passing"})], group="web")
    await publisher.flush()
    assert backend.calls[1:] == [("check", _reg().id, "alive", "passing")]
    publisher.register([_reg(tags=["v2"], checks={"alive": "passing"})], group="web")
    await publisher.flush()
    verb, instance = backend.calls[-1]
    assert (verb, instance.tags) == ("register", ["v2"])


async def test_failures_are_retried_and_the_latest_wish_wins(published: Any) -> None:
    publisher, backend = published
    backend.fail = 1
    publisher.register([_reg()], group="web")
    await asyncio.sleep(RETRY_MIN / 2)
    publisher.deregister([_reg()])
    await publisher.flush()
    assert backend.calls == [("deregister", _reg().id)]
    assert publisher.registered == {}


def test_the_provider_picks_the_catalog() -> None:
    builtin, consul = BackendPublisher(RecordingBackend()), BackendPublisher(RecordingBackend())
    router = ServiceRouter(builtin, {"consul": consul})
    assert router.for_service(Service(name="a", provider="consul")) is consul
    assert router.for_service(Service(name="a")) is consul  # Nomad's default provider
    assert router.for_service(Service(name="a", provider="nomad")) is builtin
    assert ServiceRouter(builtin).for_service(Service(name="a", provider="consul")) is builtin
    assert router.publishers() == [builtin, consul]
