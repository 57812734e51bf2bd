"""Three real server processes on 127.0.0.1: leader failure, full restart, partition.

Run with ``-s`` to see how long failover took.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from caravan.rpc import RPCClient, RPCError
from caravan.rpc.errors import NoLeaderError, NotLeaderError

from .cluster import Cluster


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    c.start_all()
    yield c
    c.stop_all()


async def write_many(client: RPCClient, ids: list[str], acked: list[str], width: int) -> None:
    """Write ``ids`` with ``width`` writes in flight; record each acknowledged one."""
    queue = list(reversed(ids))

    async def worker() -> None:
        while queue:
            eval_id = queue.pop()
            await client.call("test_write", {"ID": eval_id}, timeout=20)
            acked.append(eval_id)

    await asyncio.gather(*(worker() for _ in range(width)))


async def test_no_acknowledged_write_is_lost_to_kill_9(cluster: Cluster) -> None:
    leader = await cluster.leader()
    client = RPCClient(cluster.addresses, timeout=20)
    ids = [str(uuid.uuid4()) for _ in range(1000)]
    acked: list[str] = []
    writing = asyncio.create_task(write_many(client, ids, acked, width=16))
    while len(acked) < 300:
        await asyncio.sleep(0.01)
    killed_at = time.monotonic()
    cluster.kill(leader)
    new_leader = await cluster.leader()
    failover = time.monotonic() - killed_at
    await writing
    await client.close()
    print(f"\nfailover: new leader {new_leader} elected {failover * 1000:.0f} ms after kill -9")

    assert new_leader != leader
    assert sorted(acked) == sorted(ids)
    for survivor in cluster.alive:
        state = await cluster.call(survivor, "test_read", {"Barrier": True})
        assert set(acked) <= set(state["IDs"])

    # Now kill -9 every server and start all three again from their data directories.
    cluster.stop_all()
    cluster.start_all()
    await cluster.leader()
    for address in cluster.addresses:
        state = await cluster.call(address, "test_read", {"Barrier": True})
        assert set(state["IDs"]) == set(ids)


async def test_partitioned_server_serves_no_writes_and_catches_up(cluster: Cluster) -> None:
    leader = await cluster.leader()
    minority = next(a for a in cluster.addresses if a != leader)
    majority = [a for a in cluster.addresses if a != minority]
    await cluster.call(minority, "test_isolate", {"On": True})

    majority_client = RPCClient(majority)
    during = [str(uuid.uuid4()) for _ in range(50)]
    await write_many(majority_client, during, [], width=4)

    with pytest.raises((RPCError, NoLeaderError, NotLeaderError)):
        await cluster.call(minority, "test_write", {"ID": "lost", "Timeout": 1.0})
    with pytest.raises((RPCError, NoLeaderError, NotLeaderError)):
        await cluster.call(minority, "test_read", {"Barrier": True, "Timeout": 1.0})
    assert not set(during) & set((await cluster.call(minority, "test_read"))["IDs"])

    await cluster.call(minority, "test_isolate", {"On": False})
    assert await cluster.leader() in majority
    state = await cluster.call(minority, "test_read", {"Barrier": True})
    assert set(during) <= set(state["IDs"])
    assert "lost" not in state["IDs"]
    await majority_client.close()
