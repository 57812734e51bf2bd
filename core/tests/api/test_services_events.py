"""Service discovery endpoints and the event stream."""

from __future__ import annotations

import asyncio
import json

from caravan.structs import ServiceRegistration, new_id

from .conftest import add_node, place, register


async def _services(server, job, node, alloc_ids) -> list[ServiceRegistration]:
    regs = [
        ServiceRegistration(
            id=f"_nomad-task-{alloc_id}-server-web-http",
            service_name="web",
            namespace="default",
            node_id=node.id,
            datacenter="dc1",
            job_id=job.id,
            alloc_id=alloc_id,
            tags=["urlprefix-/", f"t{i}"],
            address="127.0.0.1",
            port=20000 + i,
        )
        for i, alloc_id in enumerate(alloc_ids)
    ]
    await server.service_upsert(regs)
    return regs


async def test_services(api, server) -> None:
    job = await register(server)
    node = await add_node(server)
    regs = await _services(server, job, node, await place(server, job, node, count=3))
    listing = await (await api.get("/v1/services")).json()
    assert listing == [
        {
            "Namespace": "default",
            "Services": [{"ServiceName": "web", "Tags": ["t0", "t1", "t2", "urlprefix-/"]}],
        }
    ]
    resp = await api.get("/v1/service/web?stale=")
    assert "X-Nomad-LastContact" in resp.headers and "X-Nomad-Index" in resp.headers
    instances = await resp.json()
    assert sorted(i["Port"] for i in instances) == [20000, 20001, 20002]
    first = await (await api.get("/v1/service/web?choose=2|client-a")).json()
    again = await (await api.get("/v1/service/web?choose=2|client-a")).json()
    assert len(first) == 2 and first == again
    assert (await api.get("/v1/service/web?choose=two")).status == 400
    alloc_regs = await (await api.get(f"/v1/allocation/{regs[0].alloc_id}/services")).json()
    assert [r["ID"] for r in alloc_regs] == [regs[0].id]
    assert len(await (await api.get("/v1/job/web/services")).json()) == 3
    resp = await api.delete(f"/v1/service/web/{regs[0].id}")
    assert resp.status == 200, await resp.text()
    assert len(await (await api.get("/v1/service/web")).json()) == 2
    assert (await api.delete(f"/v1/service/web/{new_id()}")).status == 404


async def _lines(resp, count: int) -> list[dict]:
    out = []
    while len(out) < count:
        line = await asyncio.wait_for(resp.content.readline(), 5)
        out.append(json.loads(line))
    return out


async def test_event_stream_topics(api, server) -> None:
    async with api.get("/v1/event/stream?topic=Job:web&topic=Node") as resp:
        assert await _lines(resp, 1) == [{}]
        await register(server, "other")
        await register(server)
        node = await add_node(server)
        batches = await _lines(resp, 2)
    events = [e for b in batches for e in b["Events"]]
    assert [(e["Topic"], e["Type"], e["Key"]) for e in events] == [
        ("Job", "JobRegistered", "web"),
        ("Node", "NodeRegistration", node.id),
    ]
    assert events[0]["Payload"]["Job"]["ID"] == "web"
    assert batches[0]["Index"] == events[0]["Index"]


async def test_event_stream_resumes_from_index(api, server) -> None:
    async with api.get("/v1/event/stream?topic=Job") as resp:
        await _lines(resp, 1)
        await register(server)
        (batch,) = await _lines(resp, 1)
    async with api.get(f"/v1/event/stream?topic=Job&index={batch['Index']}") as resp:
        assert await _lines(resp, 2) == [{}, batch]
    assert (await api.get("/v1/event/stream?topic=Bogus")).status == 400


async def test_allocation_events_and_heartbeat(api, server) -> None:
    from caravan.api import EVENTS

    api.server.app[EVENTS].heartbeat = 0.05
    job = await register(server)
    node = await add_node(server)
    async with api.get("/v1/event/stream?topic=Allocation") as resp:
        assert await _lines(resp, 2) == [{}, {}]
        (alloc_id,) = await place(server, job, node)
        lines = await _lines(resp, 1)
        while lines[-1] == {}:
            lines = await _lines(resp, 1)
    (event,) = lines[-1]["Events"]
    assert event["Type"] == "AllocationCreated" and event["Key"] == alloc_id
    assert event["FilterKeys"] == ["web"] and event["Payload"]["Allocation"]["Job"] is None


async def test_events_follow_commits(api, server) -> None:
    job = await register(server)
    node = await add_node(server)
    async with api.get("/v1/event/stream?topic=Job&topic=Allocation") as resp:
        await _lines(resp, 1)
        allocs = await place(server, job, node, count=2)
        (placed,) = await _lines(resp, 1)
        await server.job_deregister("default", "web", purge=True)
        (purged,) = await _lines(resp, 1)
    # One event per object and commit, all at the commit's index.
    assert sorted(e["Key"] for e in placed["Events"] if e["Topic"] == "Allocation") == sorted(
        allocs
    )
    assert {e["Index"] for e in placed["Events"]} == {placed["Index"]}
    # A purge deletes the job (an event) and its allocations (garbage: no events).
    assert [(e["Topic"], e["Type"]) for e in purged["Events"]] == [("Job", "JobDeregistered")]
