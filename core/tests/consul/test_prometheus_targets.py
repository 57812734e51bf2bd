"""``GET /v1/caravan/prometheus/targets``: one http_sd target group per instance, labelled like
nomad_sd, with the service, tag and passing filters; and caravan's ``healthy`` filter on
``/v1/service/:name``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

REGS = [
    {
        "ID": "web-1",
        "ServiceName": "web",
        "JobID": "shop",
        "NodeID": "n1",
        "Tags": ["a", "b"],
        "Address": "10.0.0.1",
        "Port": 80,
        "Checks": {"http": "passing"},
    },
    {
        "ID": "web-2",
        "ServiceName": "web",
        "Address": "::1",
        "Port": 81,
        "Checks": {"http": "critical"},
    },
    {"ID": "db-1", "ServiceName": "db", "Namespace": "data", "Address": "10.0.0.3", "Port": 5432},
]


@pytest.fixture
async def http(agent: Any) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession(base_url=agent.nomad_url) as session:
        async with session.put("/v1/caravan/services", json={"Services": REGS}) as resp:
            assert resp.status == 200, await resp.text()
        yield session


async def targets(http: Any, **params: Any) -> list[dict[str, Any]]:
    async with http.get("/v1/caravan/prometheus/targets", params=params) as resp:
        assert resp.status == 200 and "X-Nomad-Index" in resp.headers
        return await resp.json()


async def test_one_target_group_per_instance_with_nomad_sd_labels(http: Any) -> None:
    first, second = await targets(http)
    assert first == {
        "targets": ["10.0.0.1:80"],
        "labels": {
            "__meta_caravan_address": "10.0.0.1",
            "__meta_caravan_service": "web",
            "__meta_caravan_service_id": "web-1",
            "__meta_caravan_service_address": "10.0.0.1",
            "__meta_caravan_service_port": "80",
            "__meta_caravan_namespace": "default",
            "__meta_caravan_dc": "dc1",
            "__meta_caravan_node_id": "n1",
            "__meta_caravan_job": "shop",
            "__meta_caravan_alloc_id": "",
            "__meta_caravan_health": "passing",
            "__meta_caravan_tags": ",a,b,",
        },
    }
    assert second["targets"] == ["[::1]:81"]
    assert second["labels"]["__meta_caravan_health"] == "critical"
    assert second["labels"]["__meta_caravan_tags"] == ""


async def test_filters(http: Any) -> None:
    assert [t["targets"] for t in await targets(http, passing="true")] == [["10.0.0.1:80"]]
    assert [t["targets"] for t in await targets(http, tag="b")] == [["10.0.0.1:80"]]
    everywhere = await targets(http, namespace="*", service="db")
    assert [t["labels"]["__meta_caravan_namespace"] for t in everywhere] == ["data"]
    assert await targets(http, service="db") == []


async def test_healthy_filter_on_the_nomad_service_read(http: Any) -> None:
    async with http.get("/v1/service/web", params={"healthy": "true"}) as resp:
        assert [r["ID"] for r in await resp.json()] == ["web-1"]
    async with http.get("/v1/service/web") as resp:
        assert [r["ID"] for r in await resp.json()] == ["web-1", "web-2"]


async def test_check_updates_and_idempotent_delete(http: Any) -> None:
    async with http.put(
        "/v1/caravan/service/web-2/checks", json={"Checks": {"http": "passing"}}
    ) as r:
        assert r.status == 200
    assert len(await targets(http, passing="1")) == 2
    async with http.put("/v1/caravan/service/nope/checks", json={"Checks": {"x": "passing"}}) as r:
        assert r.status == 404
    async with http.put("/v1/caravan/service/web-2/checks", json={"Checks": {"x": "ok"}}) as r:
        assert r.status == 400
    for _ in range(2):
        async with http.delete("/v1/caravan/service/web-2") as r:
            assert r.status == 200
    assert [t["targets"] for t in await targets(http)] == [["10.0.0.1:80"]]


async def test_bad_registration_is_refused(http: Any) -> None:
    async with http.put("/v1/caravan/services", json={"Services": [{"ID": "x"}]}) as resp:
        assert resp.status == 400 and "ServiceName" in await resp.text()
    async with http.put("/v1/caravan/services", json={"Services": []}) as resp:
        assert resp.status == 400
