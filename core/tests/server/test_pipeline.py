"""Register -> evaluation -> broker -> worker -> plan -> applier -> allocations in state."""

from __future__ import annotations

import pytest

from caravan.errors import JobValidationError
from caravan.server import RequestError

from .conftest import job, live, node, settle


async def test_register_places_allocations(server) -> None:
    for i in range(3):
        await server.node_register(node(f"n{i}"))
    resp = await server.job_register(job(count=5))
    assert resp["EvalID"] and resp["JobModifyIndex"] > 0 and resp["Warnings"] == ""
    await settle(server)
    allocs = live(server)
    assert len(allocs) == 5
    assert {a.client_status for a in allocs} == {"pending"}
    ev = server.state.eval_by_id(resp["EvalID"])
    assert ev.status == "complete"
    assert ev.triggered_by == "job-register"
    assert server.state.job_by_id("default", "web").status == "running"


async def test_invalid_job_changes_nothing(server) -> None:
    bad = job().model_copy(update={"task_groups": []})
    before = server.state.latest_index
    with pytest.raises(JobValidationError, match="Missing job task groups"):
        await server.job_register(bad)
    assert server.state.latest_index == before


async def test_check_index_conflict_uses_nomads_message(server) -> None:
    await server.node_register(node("n0"))
    first = await server.job_register(job(count=1))
    await settle(server)
    before = server.state.latest_index
    wrong = first["JobModifyIndex"] + 100
    with pytest.raises(RequestError) as err:
        await server.job_register(job(count=2), enforce_index=wrong)
    assert str(err.value) == (
        f"Enforcing job modify index {wrong}: job exists with conflicting job modify index: "
        f"{first['JobModifyIndex']}"
    )
    assert server.state.latest_index == before
    with pytest.raises(RequestError, match="Enforcing job modify index 0: job already exists"):
        await server.job_register(job(count=2), enforce_index=0)
    ok = await server.job_register(job(count=2), enforce_index=first["JobModifyIndex"])
    assert ok["JobModifyIndex"] > first["JobModifyIndex"]


async def test_deregister_stops_allocations(server) -> None:
    await server.node_register(node("n0"))
    await server.job_register(job(count=2))
    await settle(server)
    resp = await server.job_deregister("default", "web")
    await settle(server)
    assert server.state.eval_by_id(resp["EvalID"]).triggered_by == "job-deregister"
    assert live(server) == []
    assert server.state.job_by_id("default", "web").stop is True


async def test_scale_and_alloc_stop(server) -> None:
    await server.node_register(node("n0", cpu=4000, memory=4096))
    await server.job_register(job(count=2, update=None))
    await settle(server)
    dep = server.state.latest_deployment_by_job("default", "web")
    if dep is not None and dep.active():
        await server.deployment_fail(dep.id)
        await settle(server)
    resp = await server.job_scale("default", "web", "app", 3, "more")
    await settle(server)
    assert server.state.eval_by_id(resp["EvalID"]).triggered_by == "job-scaling"
    assert len(live(server)) == 3
    victim = live(server)[0]
    stop = await server.alloc_stop(victim.id)
    await settle(server)
    assert server.state.eval_by_id(stop["EvalID"]).triggered_by == "alloc-stop"
    assert server.state.alloc_by_id(victim.id).desired_status == "stop"
    assert len(live(server)) == 3 and victim.id not in {a.id for a in live(server)}
