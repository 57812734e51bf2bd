"""python-nomad (the PyPI client) against a live caravan API on 127.0.0.1."""

from __future__ import annotations

import asyncio

import nomad
import pytest
from aiohttp import web

from caravan.api import AgentInfo, create_app

from .conftest import add_node, place, register


@pytest.fixture
async def live(server):
    runner = web.AppRunner(create_app(server, agent_info=AgentInfo(node_name="live")))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield nomad.Nomad(host="127.0.0.1", port=port, timeout=5)
    await runner.cleanup()


async def test_python_nomad_reads(live, server) -> None:
    job = await register(server)
    node = await add_node(server)
    (alloc_id,) = await place(server, job, node)

    def read() -> dict:
        return {
            "jobs": live.jobs.get_jobs(),
            "job": live.job.get_job("web"),
            "contains": "web" in live.jobs,
            "allocs": live.allocations.get_allocations(),
            "alloc": live.allocation.get_allocation(alloc_id),
            "nodes": live.nodes.get_nodes(),
            "node": live.node.get_node(node.id),
            "versions": live.job.get_versions("web"),
            "leader": live.status.leader.get_leader(),
            "regions": live.regions.get_regions(),
        }

    got = await asyncio.to_thread(read)
    assert [j["ID"] for j in got["jobs"]] == ["web"] and got["contains"]
    assert got["job"]["TaskGroups"][0]["Name"] == "app"
    assert [a["ID"] for a in got["allocs"]] == [alloc_id]
    assert got["alloc"]["JobID"] == "web"
    assert [n["ID"] for n in got["nodes"]] == [node.id] and got["node"]["Name"] == "node-1"
    assert got["versions"]["Versions"][0]["Version"] == 0
    assert got["leader"] == "127.0.0.1:4647" and got["regions"] == ["global"]


async def test_python_nomad_errors_and_writes(live, server) -> None:
    await register(server)

    def act() -> tuple:
        with pytest.raises(nomad.api.exceptions.URLNotFoundNomadException):
            live.job.get_job("missing")
        plan = live.job.plan_job("web", {"Job": live.job.get_job("web")}, diff=True)
        stopped = live.job.deregister_job("web", purge=False)
        return plan, stopped

    plan, stopped = await asyncio.to_thread(act)
    assert "DesiredTGUpdates" in plan["Annotations"] and stopped["EvalID"]
