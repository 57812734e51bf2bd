"""Fixtures for the HTTP API tests: a real ``Server`` over a one-member Raft group (see
:mod:`caravan.server.testing`), served by aiohttp's test server.

The server's loops (workers, plan applier) are not started: evaluations stay pending, so
tests place allocations and deployments themselves through FSM commands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from caravan.api import AgentInfo, create_app
from caravan.server.config import ServerConfig
from caravan.server.server import Server
from caravan.server.testing import single_server_group
from caravan.state import FSM, StateStore
from caravan.state import commands as c
from caravan.structs import Allocation, Job, Node, canonicalize, new_id


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    fsm = FSM(StateStore())
    async with single_server_group(fsm, advertise="127.0.0.1:4647") as group:
        yield Server(ServerConfig(num_schedulers=0), group, fsm)


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
