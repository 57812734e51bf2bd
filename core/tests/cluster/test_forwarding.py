"""Writes made on any server of a three-server region run on the leader."""

from __future__ import annotations

import pytest

from caravan.errors import JobValidationError
from caravan.server import NotFoundError, RequestError
from caravan.state import commands as c
from caravan.structs import Evaluation, Job, new_id

from .conftest import Region, eventually, job, job_api, node, running


async def test_writes_on_a_follower_are_placed_by_the_leader(region: Region) -> None:
    leader = await region.wait_for_leader()
    follower = region.followers()[0]
    registered = await follower.node_register(node("n1"))
    assert registered["HeartbeatTTL"] > 0
    # Heartbeat timers live on the leader, where the forwarded registration ran.
    assert "n1" in leader.heartbeats and "n1" not in follower.heartbeats

    reply = await follower.job_register(job("web", count=2))
    assert reply["EvalID"] and reply["JobModifyIndex"] > 0
    for server in region.servers:
        await eventually(lambda s=server: len(running(s, "web")) == 2, what="2 allocations")
    await eventually(
        lambda: follower.state.eval_by_id(reply["EvalID"]).status == "complete",
        what="the evaluation to complete",
    )


async def test_errors_cross_the_wire_as_themselves(region: Region) -> None:
    leader = await region.wait_for_leader()
    follower = region.followers()[0]
    bad = Job.from_api({**job_api("bad"), "Type": "nonsense"})
    with pytest.raises(JobValidationError) as on_leader:
        await leader.job_register(bad)
    with pytest.raises(JobValidationError) as forwarded:
        await follower.job_register(bad)
    assert str(forwarded.value) == str(on_leader.value)
    assert forwarded.value.errors == on_leader.value.errors

    with pytest.raises(NotFoundError, match="job 'ghost' not found in namespace 'default'"):
        await follower.job_deregister("default", "ghost")

    await follower.job_register(job("web", count=1))
    with pytest.raises(RequestError, match="Enforcing job modify index 0: job already exists"):
        await follower.job_register(job("web", count=1), enforce_index=0)
    with pytest.raises(RequestError, match="invalid node status 'sleepy'"):
        await follower.node_update_status("n1", "sleepy")


async def test_evaluations_written_by_any_path_reach_the_leaders_broker(region: Region) -> None:
    await region.wait_for_leader()
    follower = region.followers()[0]
    await follower.node_register(node("n1"))
    web = job("web", count=1)
    ev = Evaluation(
        id=new_id(),
        namespace="default",
        priority=50,
        type="service",
        triggered_by="job-register",
        job_id="web",
        status="pending",
    )
    # A raw log entry committed through the follower, bypassing every endpoint.
    await follower.consensus.apply_or_forward(c.job_register(web, [ev]))
    await eventually(lambda: len(running(follower, "web")) == 1, what="the allocation")
    await eventually(
        lambda: follower.state.eval_by_id(ev.id).status == "complete", what="eval complete"
    )


async def test_a_new_leader_restores_pending_work_from_the_state(region: Region) -> None:
    old = await region.wait_for_leader()
    await old.node_register(node("n1"))
    for worker in old.workers:
        worker.paused = True
    reply = await old.job_register(job("web", count=1))
    assert old.broker.stats()["TotalReady"] == 1
    # Cut the leader off: it steps down, the others elect a leader that finds the pending
    # evaluation in its state (no endpoint ever ran there).
    old.consensus.rpc.faults.isolated = True
    survivors = [s for s in region.servers if s is not old]
    new = await region.wait_for_leader(survivors)
    await eventually(
        lambda: new.state.eval_by_id(reply["EvalID"]).status == "complete",
        what="the evaluation to complete",
    )
    assert len(running(new, "web")) == 1
    await eventually(lambda: not old.broker.enabled, what="the old leader to step down")


async def test_status_comes_from_the_raft_group(region: Region) -> None:
    leader = await region.wait_for_leader()
    addresses = sorted(s.config.rpc_address for s in region.servers)
    for server in region.servers:
        await eventually(lambda s=server: s.leader_address() == leader.config.rpc_address)
        assert server.known_leader
        assert server.peers() == addresses
        members = server.members()
        assert sorted(m["Tags"]["id"] for m in members) == addresses
        assert {m["Status"] for m in members} == {"alive"}
    assert leader.last_contact_ms() == 0
    follower = region.followers()[0]
    assert 0 <= follower.last_contact_ms() < 2000
