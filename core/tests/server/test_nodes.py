"""Node liveness and drains: lost allocations are replaced, drains move allocations off."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from caravan.server import NotFoundError, RequestError

from .conftest import eventually, job, live, make_server, node, settle


async def test_missed_heartbeats_mark_node_down_and_replace_allocs() -> None:
    async with make_server(
        min_heartbeat_ttl=0.15, heartbeat_grace=0.05, max_heartbeats_per_second=1000
    ) as srv:
        await srv.node_register(node("n0"))
        await srv.job_register(job(count=2))
        await settle(srv)
        reg = await srv.node_register(node("n1"))
        assert reg["HeartbeatTTL"] >= 0.15
        doomed = {a.id for a in live(srv)}

        async def keep_alive() -> None:
            while True:
                await srv.node_heartbeat("n1")
                await asyncio.sleep(0.03)

        beat = asyncio.create_task(keep_alive())
        try:
            await eventually(lambda: srv.state.node_by_id("n0").status == "down", what="n0 down")
            await eventually(
                lambda: len(live(srv)) == 2 and {a.node_id for a in live(srv)} == {"n1"},
                what="replacements on n1",
            )
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        for alloc_id in doomed:
            old = srv.state.alloc_by_id(alloc_id)
            assert old.client_status == "lost"
            assert old.desired_description == "alloc is lost since its node is down"
        assert srv.state.node_by_id("n0").events[-1].message == "Node heartbeat missed"


async def test_heartbeat_ttl_scales_with_cluster_size(server) -> None:
    resp = await server.node_register(node("n0"))
    assert 60.0 <= resp["HeartbeatTTL"] <= 120.0
    with pytest.raises(NotFoundError):
        await server.node_heartbeat("nope")


async def test_drain_moves_allocations_and_completes(server) -> None:
    await server.node_register(node("n0", cpu=4000, memory=4096))
    await server.job_register(job(count=3))
    await settle(server)
    await server.node_register(node("n1", cpu=4000, memory=4096))
    resp = await server.node_drain("n0", {"Deadline": 0, "IgnoreSystemJobs": False}, False)
    assert resp["EvalIDs"]
    assert server.state.node_by_id("n0").scheduling_eligibility == "ineligible"
    await eventually(
        lambda: server.state.node_by_id("n0").drain_strategy is None, timeout=10, what="drain"
    )
    await settle(server)
    assert {a.node_id for a in live(server)} == {"n1"} and len(live(server)) == 3
    assert server.state.node_by_id("n0").scheduling_eligibility == "ineligible"
    moved = [a for a in server.state.allocs_by_node("n0")]
    assert {a.desired_description for a in moved} == {"alloc is being migrated"}


async def test_eligibility_rules(server) -> None:
    await server.node_register(node("n0"))
    with pytest.raises(RequestError, match="invalid scheduling eligibility"):
        await server.node_eligibility("n0", "maybe")
    await server.node_drain("n0", {"Deadline": -1}, False)
    with pytest.raises(RequestError, match="while draining"):
        await server.node_eligibility("n0", "eligible")
    await server.node_drain("n0", None, True)
    assert server.state.node_by_id("n0").scheduling_eligibility == "eligible"


async def test_failed_alloc_gets_a_delayed_reschedule(server) -> None:
    await server.node_register(node("n0"))
    await server.job_register(job(count=1))
    await settle(server)
    (alloc,) = live(server)
    index, seen = await server.node_get_client_allocs("n0", 0, 0.1)
    assert seen == {alloc.id: alloc.alloc_modify_index} and index > 0
    waiter = asyncio.create_task(server.node_get_client_allocs("n0", index, 2.0))
    await server.alloc_client_update([{"ID": alloc.id, "ClientStatus": "failed"}])
    _, after = await waiter
    assert alloc.id in after

    def triggers() -> dict[str, str]:
        return {e.triggered_by: e.status for e in server.state.evals_by_job("default", "web")}

    # The service reschedule policy delays the replacement (30s): a follow-up waits for it.
    await eventually(lambda: triggers().get("alloc-failure") == "complete")
    await eventually(lambda: "failed-follow-up" in triggers())
    assert server.broker.stats()["TotalWaiting"] == 1
    assert server.state.alloc_by_id(alloc.id).followup_eval_id
