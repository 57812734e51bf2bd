"""The check runner's clock-driven rules, stepped by hand: TTL expiry and the reaping of a
service whose check stayed critical past DeregisterCriticalServiceAfter."""

from __future__ import annotations

from typing import Any

from caravan.consul.local import LocalAgent
from caravan.consul.registration import parse_service


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_critical_service_is_reaped_after_its_deadline(agent: Any) -> None:
    clock = Clock()
    local = LocalAgent(agent.server, datacenter="dc1", node_id="", address="127.0.0.1", clock=clock)
    service = parse_service(
        {
            "Name": "batch",
            "Check": {"TTL": "10s", "Status": "passing", "DeregisterCriticalServiceAfter": "1m"},
        }
    )
    await local.register(service, replace_checks=True)
    state = agent.server.state

    clock.now += 11
    await local.step()
    assert state.service_registration_by_id("batch").checks == {"Service 'batch' check": "critical"}

    clock.now += 59
    await local.step()
    assert state.service_registration_by_id("batch") is not None

    clock.now += 2
    await local.step()
    assert state.service_registration_by_id("batch") is None
    assert local.checks == {}


async def test_deregister_deadline_has_consuls_floor_of_one_minute() -> None:
    service = parse_service(
        {"Name": "x", "Check": {"TTL": "1s", "DeregisterCriticalServiceAfter": "5s"}}
    )
    assert service.checks[0].deregister_after == 60.0
