"""Fixtures for the HTTP API tests: a real ``Server`` over a one-node in-process consensus
(every write applied straight to the FSM), served by aiohttp's test server.

The server's loops (workers, plan applier) are not started: evaluations stay pending, so
tests place allocations and deployments themselves through FSM commands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from caravan.api import AgentInfo, create_app
from caravan.server.config import ServerConfig
from caravan.server.server import Server
from caravan.state import FSM, StateStore
from caravan.state import commands as c
from caravan.structs import Allocation, Job, Node, canonicalize, new_id


class LocalConsensus:
    """A single, always-leading consensus member: ``apply`` commits at the next index."""

    def __init__(self, fsm: FSM) -> None:
        self.fsm = fsm
        self.index = 0
        self.is_leader = True
        self.leader_address = "127.0.0.1:4647"

    async def apply(self, command: bytes) -> Any:
        self.index += 1
        return self.fsm.apply(self.index, command)

    def add_leadership_observer(self, cb: Callable[[bool], Awaitable[None]]) -> None:
        pass

    async def barrier(self) -> None:
        pass


@pytest.fixture
def server() -> Server:
    fsm = FSM(StateStore())
    return Server(ServerConfig(num_schedulers=0), LocalConsensus(fsm), fsm)


@pytest.fixture
async def api(server: Server) -> AsyncIterator[TestClient]:
    app = create_app(server, agent_info=AgentInfo(node_name="test-agent"))
    async with TestClient(TestServer(app)) as client:
        yield client


def job_json(job_id: str = "web", count: int = 2, **fields: Any) -> dict[str, Any]:
    """A small service job in API JSON."""
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
                        "Name": "server",
                        "Driver": "mock",
                        "Config": {"run_for": "10s"},
                        "Resources": {"CPU": 100, "MemoryMB": 64},
                    }
                ],
            }
        ],
        **fields,
    }


async def register(server: Server, job_id: str = "web", **fields: Any) -> Job:
    job = canonicalize(Job.from_api(job_json(job_id, **fields)))
    job = job.model_copy(update={"namespace": job.namespace or "default"})
    await server.job_register(job)
    return server.state.job_by_id(job.namespace, job_id)


async def add_node(server: Server, name: str = "node-1", **fields: Any) -> Node:
    node = Node.from_api(
        {
            "ID": new_id(),
            "SecretID": new_id(),
            "Name": name,
            "Datacenter": "dc1",
            "HTTPAddr": "127.0.0.1:4646",
            "Status": "ready",
            "Attributes": {"os.name": "linux", "kernel.name": "linux", "cpu.arch": "amd64"},
            "NodeResources": {"Cpu": {"CpuShares": 4000}, "Memory": {"MemoryMB": 8192}},
            **fields,
        }
    )
    await server.node_register(node)
    return server.state.node_by_id(node.id)


async def place(server: Server, job: Job, node: Node, count: int = 1, **fields: Any) -> list[str]:
    """Place ``count`` running allocations of ``job`` on ``node``; returns their IDs."""
    allocs = [
        Allocation(
            id=new_id(),
            namespace=job.namespace,
            eval_id=new_id(),
            name=f"{job.id}.app[{i}]",
            node_id=node.id,
            node_name=node.name,
            job_id=job.id,
            task_group="app",
            desired_status="run",
            client_status="running",
            **fields,
        )
        for i in range(count)
    ]
    await server.consensus.apply(c.plan_apply(job, allocs))
    return [a.id for a in allocs]
