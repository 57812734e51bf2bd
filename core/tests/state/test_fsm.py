"""FSM snapshots, restores and decoding errors; snapshot isolation and blocking queries."""

import asyncio

import msgpack
import pytest

from caravan.state import FSM, CommandError, StateStore
from caravan.state import commands as c

from .conftest import MODELS


def _populate(cluster, make):
    ev = make.eval()
    cluster.apply(c.job_register(make.job(), [ev]))
    node = make.node()
    cluster.apply(c.node_register(node))
    dep = make.deployment(groups={"web": {"DesiredTotal": 2}})
    allocs = [make.alloc(eval_id=ev.id, node_id=node.id, deployment_id=dep.id) for _ in range(2)]
    cluster.apply(c.plan_apply(make.job(), allocs, deployment=dep))
    cluster.apply(c.service_upsert([make.service(alloc_id=allocs[0].id, node_id=node.id)]))
    cluster.apply(c.job_register(make.job(meta={"v": "1"})))
    return allocs


def test_snapshot_restore_round_trip(cluster, make):
    allocs = _populate(cluster, make)
    data = cluster.fsm.snapshot()
    other = StateStore(MODELS)
    fsm = FSM(other)
    fsm.restore(data)
    src = cluster.store
    assert fsm.applied_index == other.latest_index == src.latest_index
    for table in ("jobs", "allocs", "evals", "nodes", "deployments", "service_registrations"):
        assert other.table_index(table) == src.table_index(table)
    assert other.jobs() == src.jobs()
    assert other.job_versions("default", "web") == src.job_versions("default", "web")
    assert other.allocs_by_job("default", "web") == src.allocs_by_job("default", "web")
    restored = other.allocs_by_job("default", "web")
    assert restored[0].job is restored[1].job
    assert other.job_summary("default", "web") == src.job_summary("default", "web")
    assert other.service_registrations_by_alloc(allocs[0].id) == (
        src.service_registrations_by_alloc(allocs[0].id)
    )
    assert other.deployments_by_job("default", "web") == src.deployments_by_job("default", "web")
    assert fsm.snapshot() == data


def test_unknown_command_version_is_a_clean_error(cluster):
    entry = c.encode(c.JOB_REGISTER, {"Job": {}}, version=99)
    with pytest.raises(CommandError, match=r"'JobRegister' version 99 .*known versions: \[1\]"):
        cluster.apply(entry)
    with pytest.raises(CommandError, match="unknown command type"):
        cluster.apply(c.encode("Frobnicate", {}))
    with pytest.raises(CommandError, match="not valid msgpack"):
        cluster.apply(b"\xc1")
    with pytest.raises(CommandError, match="Type, Version and Payload"):
        cluster.apply(msgpack.packb([1, 2]))
    with pytest.raises(CommandError, match="malformed payload"):
        cluster.apply(c.encode(c.NODE_DEREGISTER, {}))
    assert cluster.store.latest_index == 0


def test_unsupported_snapshot_version(cluster):
    with pytest.raises(CommandError, match="unsupported state snapshot version 7"):
        cluster.fsm.restore(msgpack.packb({"Version": 7}))


def test_snapshot_does_not_see_later_writes(cluster, make):
    cluster.apply(c.job_register(make.job()))
    snap = cluster.store.snapshot()
    cluster.apply(c.plan_apply(make.job(), [make.alloc()]))
    cluster.apply(c.job_register(make.job("other")))
    assert snap.index == 1 and snap.allocs() == [] and len(snap.jobs()) == 1
    assert snap.job_by_id("default", "web").status == "pending"
    assert cluster.store.job_by_id("default", "web").status == "running"
    assert len(cluster.store.allocs()) == 1


async def test_wait_for_wakes_on_the_named_table_only(cluster, make):
    store = cluster.store
    allocs_wait = asyncio.ensure_future(store.wait_for(["allocs"], 0, timeout=5))
    nodes_wait = asyncio.ensure_future(store.wait_for(["nodes"], 0, timeout=5))
    await asyncio.sleep(0)
    cluster.apply(c.job_register(make.job()))
    cluster.apply(c.plan_apply(make.job(), [make.alloc()]))
    assert await asyncio.wait_for(allocs_wait, 1) == 2
    await asyncio.sleep(0.01)
    assert not nodes_wait.done()
    cluster.apply(c.node_register(make.node()))
    assert await asyncio.wait_for(nodes_wait, 1) == 3


async def test_wait_for_returns_immediately_when_already_newer_and_times_out(cluster, make):
    cluster.apply(c.job_register(make.job()))
    assert await cluster.store.wait_for(["jobs", "allocs"], 0, timeout=5) == 1
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await cluster.store.wait_for(["jobs"], 1, timeout=0.05) == 1
    assert 0.04 <= loop.time() - start < 1
    with pytest.raises(KeyError, match="tables"):
        await cluster.store.wait_for(["tables"], 0, timeout=0)


async def test_many_waiters_share_one_generation(cluster, make):
    store = cluster.store
    waiters = [asyncio.ensure_future(store.wait_for(["jobs"], 0, timeout=5)) for _ in range(1000)]
    await asyncio.sleep(0)
    assert store._watch.waiting_tables == 1
    cluster.apply(c.job_register(make.job()))
    assert set(await asyncio.gather(*waiters)) == {1}


def test_snapshot_written_in_chunks_round_trips(cluster, make, monkeypatch):
    from caravan.state import persist

    monkeypatch.setattr(persist, "_CHUNK", 1)  # every allocation its own chunk
    _populate(cluster, make)
    data = cluster.fsm.snapshot()
    fsm = FSM(StateStore(MODELS))
    fsm.restore(data)
    restored = fsm.store.allocs_by_job("default", "web")
    assert restored == cluster.store.allocs_by_job("default", "web")
    assert restored[0].job is restored[1].job  # the job is still carried once


def test_snapshot_encoder_encodes_the_state_it_captured(cluster, make):
    _populate(cluster, make)
    before = cluster.fsm.snapshot()
    encode = cluster.fsm.snapshot_encoder()
    cluster.apply(c.job_register(make.job(meta={"v": "2"})))
    assert encode() == before
    assert cluster.fsm.snapshot() != before
