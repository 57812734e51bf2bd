"""A region of three server processes: writes through followers, kill -9 of the leader."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from caravan.errors import CaravanError
from caravan.server import NotFoundError

from .conftest import job, node
from .processes import HEARTBEAT_GRACE, HEARTBEAT_TTL, ProcessRegion

pytestmark = pytest.mark.integration


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessRegion]:
    region = ProcessRegion(tmp_path)
    region.start()
    try:
        yield region
    finally:
        region.stop()


async def placed(region: ProcessRegion, address: str, job_id: str) -> int:
    allocs = await region.call(address, "test_allocs", {"JobID": job_id})
    return sum(1 for a in allocs if a["DesiredStatus"] == "run")


async def heartbeat(region: ProcessRegion, node_id: str, beats: list[str]) -> None:
    """Heartbeat ``node_id`` every 250 ms, to each live server in turn (as a client agent
    whose server died moves to the next); records which server took each beat."""
    for i in itertools.count():
        live = sorted(region.procs)
        address = live[i % len(live)]
        client = region.client(address)
        with contextlib.suppress(CaravanError, OSError, TimeoutError):
            await client.node_heartbeat(node_id)
            beats.append(address)
        await client.close()
        await asyncio.sleep(0.25)


async def test_failover_keeps_scheduling_and_nodes_alive(processes: ProcessRegion) -> None:
    region = processes
    leader = await region.leader()
    follower = next(a for a in region.addresses if a != leader)
    via_follower = region.client(follower)

    await via_follower.node_register(node("n1"))
    beats: list[str] = []
    beating = asyncio.create_task(heartbeat(region, "n1", beats))
    try:
        reply = await via_follower.endpoint("job_register", job("web", count=2))
        assert reply["EvalID"]
        for address in region.addresses:
            await eventually_async(lambda a=address: placed(region, a, "web"), 2)
        with pytest.raises(NotFoundError, match="job 'ghost' not found"):
            await via_follower.endpoint("job_deregister", "default", "ghost")
        await via_follower.close()

        region.kill9(leader)
        new_leader = await region.leader()
        assert new_leader != leader
        survivor = next(a for a in region.procs if a != new_leader)
        via_survivor = region.client(survivor)
        await via_survivor.endpoint("job_register", job("api", count=2))
        await eventually_async(lambda: placed(region, new_leader, "api"), 2)
        await via_survivor.close()

        # Past the longest TTL + grace the node may have been given: still ready everywhere.
        await asyncio.sleep(2 * HEARTBEAT_TTL + HEARTBEAT_GRACE + 0.5)
        for address in region.procs:
            assert await region.call(address, "test_nodes") == {"n1": "ready"}
        assert set(beats) >= set(region.procs), "every survivor took heartbeats"
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


async def eventually_async(count, want: int, timeout: float = 15.0) -> None:
    """Poll the awaitable ``count()`` until it returns ``want``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    got = None
    while loop.time() < deadline:
        got = await count()
        if got == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"expected {want}, last saw {got}")
