"""A three-server region in one process: three real ``Server``\\ s, each on its own
``RaftGroup`` and RPC listener on 127.0.0.1, forwarding writes to the leader over TCP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from caravan.rpc import RPCServer
from caravan.rpc.forwarding import LeaderForwarder
from caravan.server import Server, ServerConfig
from caravan.server.consensus import RaftGroup
from caravan.state import FSM, StateStore
from caravan.structs import Job, Node, canonicalize

TICK = 0.02


@dataclass
class Region:
    servers: list[Server]

    def leader(self) -> Server | None:
        leaders = [s for s in self.servers if s.is_leader and s.broker.enabled]
        return leaders[0] if len(leaders) == 1 else None

    def followers(self) -> list[Server]:
        return [s for s in self.servers if not s.is_leader]

    async def wait_for_leader(self, among: list[Server] | None = None) -> Server:
        candidates = among or self.servers

        def found() -> bool:
            return any(s.is_leader and s.broker.enabled for s in candidates)

        await eventually(found, 10.0, "a leader")
        return next(s for s in candidates if s.is_leader)


def server_config(name: str, address: str) -> ServerConfig:
    return ServerConfig(
        name=name,
        rpc_address=address,
        num_schedulers=1,
        min_heartbeat_ttl=60.0,
        dequeue_timeout=0.05,
        blocked_unblock_window=0.01,
        eval_nack_timeout=5.0,
    )


@pytest.fixture
async def region() -> AsyncIterator[Region]:
    rpcs = [RPCServer("127.0.0.1:0") for _ in range(3)]
    for rpc in rpcs:
        await rpc.start()
    addresses = [rpc.address for rpc in rpcs]
    async with contextlib.AsyncExitStack() as stack:
        servers = []
        for i, rpc in enumerate(rpcs):
            stack.push_async_callback(rpc.stop)
            fsm = FSM(StateStore())
            group = RaftGroup(
                fsm,
                rpc,
                bootstrap_expect=3,
                join=[a for a in addresses if a != rpc.address],
                name=f"server-{i + 1}",
                tick_interval=TICK,
                apply_timeout=5.0,
            )
            forwarder = LeaderForwarder(group, timeout=5.0, faults=rpc.faults)
            server = Server(
                server_config(f"server-{i + 1}", rpc.address), group, fsm, forwarder=forwarder
            )
            rpc.serve_endpoints(server)
            await group.start()
            stack.push_async_callback(group.stop)
            await stack.enter_async_context(server)
            servers.append(server)
        region = Region(servers)
        await region.wait_for_leader()
        yield region


async def eventually(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


def node(node_id: str) -> Node:
    """A ready client node with the mock driver and room for a few small allocations."""
    return Node.from_api(
        {
            "ID": node_id,
            "Name": node_id,
            "Datacenter": "dc1",
            "Status": "ready",
            "Attributes": {"kernel.name": "linux", "unique.hostname": node_id},
            "Drivers": {"mock": {"Detected": True, "Healthy": True}},
            "NodeResources": {
                "Cpu": {"CpuShares": 4000},
                "Memory": {"MemoryMB": 4096},
                "Disk": {"DiskMB": 10000},
            },
        }
    )


def job_api(job_id: str = "web", count: int = 2) -> dict[str, Any]:
    """A small service job in API JSON, running the mock driver."""
    return {
        "ID": job_id,
        "Name": job_id,
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "app",
                "Count": count,
                "Tasks": [
                    {
                        "Name": "app",
                        "Driver": "mock",
                        "Config": {"run_for": "1h"},
                        "Resources": {"CPU": 100, "MemoryMB": 64},
                    }
                ],
            }
        ],
    }


def job(job_id: str = "web", count: int = 2) -> Job:
    return canonicalize(Job.from_api(job_api(job_id, count)))


def running(server: Server, job_id: str) -> list[Any]:
    """The job's allocations that should be running, in ``server``'s own state."""
    return [a for a in server.state.allocs_by_job("default", job_id) if a.desired_status == "run"]
