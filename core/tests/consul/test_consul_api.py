"""The Consul-compatible surface as a Consul client sees it: registration with checks, TTL
updates, catalog and health reads, blocking queries and errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web


@pytest.fixture
async def http(agent: Any) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession(base_url=agent.consul_url) as session:
        yield session


async def put(http: Any, path: str, body: Any = None, **params: str) -> tuple[int, str]:
    async with http.put(path, json=body, params=params) as resp:
        return resp.status, await resp.text()


async def get(http: Any, path: str, **params: str) -> tuple[Any, dict[str, str]]:
    async with http.get(path, params=params) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json(), dict(resp.headers)


async def eventually(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.05)


WEB = {
    "ID": "web-1",
    "Name": "web",
    "Tags": ["urlprefix-/", "v1"],
    "Address": "10.1.0.1",
    "Port": 8080,
    "Meta": {"version": "1"},
    "Checks": [
        {"Name": "ready", "TTL": "30s", "Status": "passing"},
        {"CheckID": "web-alive", "Name": "alive", "TTL": "30s"},
    ],
}


async def test_register_then_read_catalog_and_health(http: Any) -> None:
    assert (await put(http, "/v1/agent/service/register", WEB))[0] == 200

    services, headers = await get(http, "/v1/catalog/services")
    assert services == {"web": ["urlprefix-/", "v1"]}
    assert int(headers["X-Consul-Index"]) >= 1
    assert headers["X-Consul-KnownLeader"] == "true"
    assert headers["X-Consul-LastContact"] == "0"

    (entry,), _ = await get(http, "/v1/catalog/service/web")
    assert entry["Node"] == "test-agent" and entry["Address"] == "127.0.0.1"
    assert (entry["ServiceID"], entry["ServiceAddress"], entry["ServicePort"]) == (
        "web-1",
        "10.1.0.1",
        8080,
    )
    assert entry["ServiceMeta"] == {"version": "1"}
    assert entry["ServiceTags"] == ["urlprefix-/", "v1"]
    assert (await get(http, "/v1/catalog/service/web", tag="v2"))[0] == []

    (health,), _ = await get(http, "/v1/health/service/web")
    checks = {c["CheckID"]: c["Status"] for c in health["Checks"]}
    # New checks start critical unless registered with a Status, as in Consul.
    assert checks == {
        "serfHealth": "passing",
        "service:web-1:1": "passing",
        "web-alive": "critical",
    }
    assert (await get(http, "/v1/health/service/web", passing="1"))[0] == []

    assert (await put(http, "/v1/agent/check/pass/web-alive", note="up"))[0] == 200
    (health,), _ = await get(http, "/v1/health/service/web", passing="true")
    alive = next(c for c in health["Checks"] if c["CheckID"] == "web-alive")
    assert (alive["Status"], alive["Output"], alive["Type"]) == ("passing", "up", "ttl")


async def test_agent_endpoints_and_deregistration(http: Any) -> None:
    await put(http, "/v1/agent/service/register", WEB)
    services, _ = await get(http, "/v1/agent/services")
    assert services["web-1"]["Service"] == "web" and services["web-1"]["Port"] == 8080
    checks, _ = await get(http, "/v1/agent/checks")
    assert set(checks) == {"service:web-1:1", "web-alive"}

    status, _ = await put(http, "/v1/agent/check/update/web-alive", {"Status": "warning"})
    assert status == 200
    warning, _ = await get(http, "/v1/health/state/warning")
    assert [c["CheckID"] for c in warning] == ["web-alive"]

    assert (await put(http, "/v1/agent/service/deregister/web-1"))[0] == 200
    assert (await put(http, "/v1/agent/service/deregister/web-1"))[0] == 200
    assert (await get(http, "/v1/catalog/services"))[0] == {}
    assert (await get(http, "/v1/agent/checks"))[0] == {}


async def test_agent_self_nodes_and_leader(http: Any, agent: Any) -> None:
    me, _ = await get(http, "/v1/agent/self")
    assert me["Config"]["Datacenter"] == "dc1" and me["Config"]["NodeName"] == "test-agent"
    (node,), _ = await get(http, "/v1/catalog/nodes")
    assert node["ID"] == me["Config"]["NodeID"] and node["Node"] == "test-agent"
    leader, _ = await get(http, "/v1/status/leader")
    assert leader == agent.server.leader_address()


async def test_blocking_query_waits_for_a_change(http: Any) -> None:
    await put(http, "/v1/agent/service/register", WEB)
    _, headers = await get(http, "/v1/health/service/web")
    index = headers["X-Consul-Index"]

    started = time.monotonic()
    _, again = await get(http, "/v1/health/service/web", index=index, wait="300ms")
    assert time.monotonic() - started >= 0.3
    assert again["X-Consul-Index"] == index

    watcher = asyncio.create_task(get(http, "/v1/health/service/web", index=index, wait="10s"))
    await asyncio.sleep(0.2)
    assert not watcher.done()
    await put(http, "/v1/agent/service/register", {**WEB, "ID": "web-2", "Checks": []})
    entries, headers = await asyncio.wait_for(watcher, 5)
    assert int(headers["X-Consul-Index"]) > int(index)
    assert [e["Service"]["ID"] for e in entries] == ["web-1", "web-2"]


async def test_http_and_tcp_checks_run(http: Any) -> None:
    answer = {"status": 200}

    async def probe(_: web.Request) -> web.Response:
        return web.Response(status=answer["status"], text="fine")

    app = web.Application()
    app.router.add_get("/health", probe)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        body = {
            "Name": "api",
            "Port": port,
            "Checks": [
                {"Name": "http", "HTTP": f"http://127.0.0.1:{port}/health", "Interval": "100ms"},
                {"Name": "tcp", "TCP": f"127.0.0.1:{port}", "Interval": "100ms"},
            ],
        }
        await put(http, "/v1/agent/service/register", body)

        async def statuses() -> dict[str, str]:
            (entry,), _ = await get(http, "/v1/health/service/api")
            return {c["Name"]: c["Status"] for c in entry["Checks"] if c["ServiceID"]}

        async def both(status: str) -> bool:
            return set((await statuses()).values()) == {status}

        await eventually(lambda: both("passing"))
        answer["status"] = 429
        await eventually(lambda: _is(statuses, "http", "warning"))
        answer["status"] = 500
        await eventually(lambda: _is(statuses, "http", "critical"))
    finally:
        await runner.cleanup()
    await eventually(lambda: both("critical"))


async def _is(statuses: Any, name: str, status: str) -> bool:
    return (await statuses())[name] == status


async def test_ttl_check_expires(http: Any) -> None:
    body = {"Name": "job", "Check": {"TTL": "200ms", "Status": "passing"}}
    await put(http, "/v1/agent/service/register", body)

    async def expired() -> bool:
        checks, _ = await get(http, "/v1/health/state/critical")
        return [(c["CheckID"], c["Output"]) for c in checks] == [("service:job", "TTL expired")]

    await eventually(expired)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"Port": 80}, 400, "Missing service name"),
        ({"Name": "x", "Check": {"Args": ["/bin/true"], "Interval": "1s"}}, 400, "'args'"),
        ({"Name": "x", "Check": {"HTTP": "http://127.0.0.1/"}}, 400, "Interval is required"),
        ({"Name": "x", "Check": {"TTL": "soon"}}, 400, "Invalid TTL"),
        ({"Name": "x", "Port": "80"}, 400, "Invalid Port"),
        ({"Name": "x", "Checks": [{"TTL": "1s"}, {"ID": "service:x:1", "TTL": "1s"}]}, 400, "dup"),
    ],
)
async def test_bad_registrations_say_why(http: Any, body: Any, status: int, message: str) -> None:
    got, text = await put(http, "/v1/agent/service/register", body)
    assert got == status and message in text
    assert (await get(http, "/v1/catalog/services"))[0] == {}


async def test_errors_for_checks_and_queries(http: Any) -> None:
    status, text = await put(http, "/v1/agent/check/pass/nope")
    assert status == 404 and 'Unknown check ID "nope"' in text
    body = {"Name": "a", "Check": {"TCP": "127.0.0.1:1", "Interval": "10s"}}
    await put(http, "/v1/agent/service/register", body)
    status, text = await put(http, "/v1/agent/check/pass/service:a")
    assert status == 500 and "does not have associated TTL" in text
    async with http.get("/v1/catalog/services", params={"index": "x"}) as resp:
        assert resp.status == 400 and "Invalid index" in await resp.text()
    async with http.get("/v1/catalog/services", params={"dc": "eu"}) as resp:
        assert resp.status == 500 and "No path to datacenter" in await resp.text()
    async with http.get("/v1/health/state/sick") as resp:
        assert resp.status == 400
    async with http.get("/v1/agent/service/register") as resp:
        assert resp.status == 405
