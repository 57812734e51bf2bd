"""Fixtures for the ACL tests: a real server over a one-member Raft group, served by aiohttp
with ``acl { enabled = true }``, plus helpers to bootstrap and to mint tokens."""

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
    app = create_app(server, agent_info=AgentInfo(node_name="acl-agent", acl_enabled=True))
    async with TestClient(TestServer(app)) as client:
        yield client


def auth(secret: str) -> dict[str, str]:
    return {"X-Nomad-Token": secret}


@pytest.fixture
async def root(api: TestClient) -> str:
    """The bootstrap (management) token's secret."""
    resp = await api.put("/v1/acl/bootstrap")
    assert resp.status == 200, await resp.text()
    return (await resp.json())["SecretID"]


async def make_token(api: TestClient, root: str, name: str, rules: str) -> dict[str, Any]:
    """Write policy ``name`` with ``rules`` and return a client token holding it."""
    resp = await api.put(
        f"/v1/acl/policy/{name}", json={"Name": name, "Rules": rules}, headers=auth(root)
    )
    assert resp.status == 200, await resp.text()
    resp = await api.put(
        "/v1/acl/token",
        json={"Name": name, "Type": "client", "Policies": [name]},
        headers=auth(root),
    )
    assert resp.status == 200, await resp.text()
    return await resp.json()


def job_json(job_id: str = "web", namespace: str = "default") -> dict[str, Any]:
    """A small service job in API JSON."""
    return {
        "ID": job_id,
        "Name": job_id,
        "Namespace": namespace,
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "app",
                "Count": 1,
                "Tasks": [{"Name": "server", "Driver": "mock", "Config": {"run_for": "10s"}}],
            }
        ],
    }


async def running_alloc(server: Server, namespace: str = "default") -> str:
    """Register a job in ``namespace`` and place one running allocation; returns its ID."""
    job = canonicalize(Job.from_api(job_json(f"job-{namespace}", namespace)))
    await server.job_register(job)
    job = server.state.job_by_id(namespace, job.id)
    node = Node.from_api(
        {
            "ID": new_id(),
            "SecretID": new_id(),
            "Name": "node-1",
            "Datacenter": "dc1",
            "Status": "ready",
            "NodeResources": {"Cpu": {"CpuShares": 4000}, "Memory": {"MemoryMB": 8192}},
        }
    )
    await server.node_register(node)
    alloc = Allocation(
        id=new_id(),
        namespace=namespace,
        eval_id=new_id(),
        name=f"{job.id}.app[0]",
        node_id=node.id,
        node_name=node.name,
        job_id=job.id,
        task_group="app",
        desired_status="run",
        client_status="running",
    )
    await server.consensus.apply(c.plan_apply(job, [alloc]))
    return alloc.id
