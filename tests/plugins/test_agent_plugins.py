"""A real in-process agent with hook plugins: ``/v1/plugins``, admission hooks on job
register, plan and revert (400 with the plugin's message, nothing stored), the state-change
hooks, and a job whose driver no node has failing placement with ``missing drivers``."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from caravan.agent import Agent, AgentConfig
from caravan_plugins import AllocationEvent, DeploymentEvent, PluginRegistry, hookimpl
from caravan_plugins.mock_driver import MockDriver


class RequireTeam:
    """Rejects jobs without ``meta.team`` or with a banned one; stamps ``meta.admitted`` on
    the others."""

    __name__ = "require_team"

    def __init__(self) -> None:
        self.banned: set[str] = set()

    @hookimpl
    def caravan_mutate_job(self, job: dict[str, Any]) -> dict[str, Any]:
        return {**job, "Meta": {**(job.get("Meta") or {}), "admitted": "yes"}}

    @hookimpl
    def caravan_validate_job(self, job: dict[str, Any]) -> list[str]:
        team = (job.get("Meta") or {}).get("team")
        if not team:
            return [f'job "{job["ID"]}" has no team']
        return [f"team {team} is banned"] if team in self.banned else []


class Recorder:
    """Keeps every state-change event it observes."""

    __name__ = "recorder"

    def __init__(self) -> None:
        self.allocations: list[AllocationEvent] = []
        self.deployments: list[DeploymentEvent] = []

    @hookimpl
    async def caravan_allocation_state_changed(self, event: AllocationEvent) -> None:
        self.allocations.append(event)

    @hookimpl
    async def caravan_deployment_state_changed(self, event: DeploymentEvent) -> None:
        self.deployments.append(event)


def job(job_id: str, driver: str = "mock", team: str | None = "web") -> dict[str, Any]:
    return {
        "Job": {
            "ID": job_id,
            "Name": job_id,
            "Type": "service",
            "Datacenters": ["dc1"],
            "Meta": {"team": team} if team else None,
            "TaskGroups": [
                {
                    "Name": "app",
                    "Count": 1,
                    "Update": {"MinHealthyTime": 0, "HealthyDeadline": 30_000_000_000},
                    "Tasks": [
                        {
                            "Name": "t",
                            "Driver": driver,
                            "Config": {"run_for": "60s"} if driver == "mock" else {},
                            "Resources": {"CPU": 100, "MemoryMB": 64},
                        }
                    ],
                }
            ],
        }
    }


@pytest.fixture
def gate() -> RequireTeam:
    return RequireTeam()


@pytest.fixture
async def agent(gate: RequireTeam) -> AsyncIterator[tuple[Agent, Recorder]]:
    recorder = Recorder()
    registry = PluginRegistry.make_test_instance(drivers=[MockDriver], hooks=[gate, recorder])
    config = AgentConfig(
        name="n1",
        bind_addr="127.0.0.1",
        dev_mode=True,
        ports={"http": 0, "rpc": 0, "consul": -1},
        server={"enabled": True, "bootstrap_expect": 1},
        client={"enabled": True},
    )
    async with Agent(config, registry=registry) as running:
        yield running, recorder


async def call(agent: Agent, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    url = f"http://{agent.http_address}{path}"
    async with aiohttp.ClientSession() as session, session.request(method, url, json=body) as r:
        text = await r.text()
        return r.status, (await r.json() if r.content_type == "application/json" else text)


async def eventually(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"not true within {timeout}s: {check.__doc__}")


async def test_v1_plugins_lists_the_agents_plugins_with_driver_health(agent: Any) -> None:
    running, _ = agent

    async def mock_healthy() -> Any:
        """the mock driver is reported healthy on the node"""
        status, body = await call(running, "GET", "/v1/plugins")
        entry = {e["Name"]: e for e in body}["mock"]
        return entry if status == 200 and entry["Health"] else None

    mock = await eventually(mock_healthy)
    assert mock["Kind"] == "driver" and mock["Group"] == "caravan.drivers" and mock["Loaded"]
    assert mock["Health"] == {"Detected": True, "Healthy": True, "HealthDescription": "Healthy"}
    _, body = await call(running, "GET", "/v1/plugins")
    hooks = {e["Name"]: e for e in body if e["Kind"] == "hooks"}
    assert set(hooks) == {"require_team", "recorder"}
    assert all(e["Loaded"] and e["Health"] is None for e in hooks.values())


async def test_a_plugin_rejection_is_a_400_with_its_message_and_stores_nothing(
    agent: Any,
) -> None:
    running, _ = agent
    status, text = await call(running, "PUT", "/v1/jobs", job("anon", team=None))
    assert status == 400
    assert 'require_team: job "anon" has no team' in text
    assert running.server.state.job_by_id("default", "anon") is None
    status, _ = await call(running, "GET", "/v1/job/anon")
    assert status == 404


async def test_a_mutation_is_stored(agent: Any) -> None:
    running, _ = agent
    status, _ = await call(running, "PUT", "/v1/jobs", job("web"))
    assert status == 200
    stored = running.server.state.job_by_id("default", "web")
    assert stored.meta == {"team": "web", "admitted": "yes"}


async def test_a_plan_passes_the_same_admission(agent: Any) -> None:
    running, _ = agent
    status, text = await call(running, "PUT", "/v1/job/anon/plan", {**job("anon", team=None)})
    assert status == 400
    assert 'require_team: job "anon" has no team' in text
    status, body = await call(running, "PUT", "/v1/job/web/plan", {**job("web"), "Diff": True})
    assert status == 200
    # The dry run plans the job as it would be stored: mutated by the plugin.
    meta = {f["Name"]: f["New"] for f in body["Diff"]["Fields"] if f["Name"].startswith("Meta")}
    assert meta == {"Meta[admitted]": "yes", "Meta[team]": "web"}
    assert running.server.state.job_by_id("default", "web") is None


async def test_a_revert_to_a_version_refused_now_is_a_400(agent: Any, gate: RequireTeam) -> None:
    running, _ = agent
    assert (await call(running, "PUT", "/v1/jobs", job("web", team="web")))[0] == 200
    assert (await call(running, "PUT", "/v1/jobs", job("web", team="api")))[0] == 200
    gate.banned.add("web")
    status, text = await call(running, "PUT", "/v1/job/web/revert", {"JobVersion": 0})
    assert status == 400
    assert "require_team: team web is banned" in text
    stored = running.server.state.job_by_id("default", "web")
    assert (stored.version, stored.meta["team"]) == (1, "api")
    gate.banned.clear()
    status, _ = await call(running, "PUT", "/v1/job/web/revert", {"JobVersion": 0})
    assert status == 200
    stored = running.server.state.job_by_id("default", "web")
    assert (stored.version, stored.meta["team"]) == (2, "web")


async def test_state_change_hooks_see_allocations_and_the_deployment(agent: Any) -> None:
    running, recorder = agent
    status, _ = await call(running, "PUT", "/v1/jobs", job("web"))
    assert status == 200

    async def successful() -> bool:
        """the deployment hook saw the deployment succeed"""
        return any(e.status == "successful" for e in recorder.deployments)

    await eventually(successful)
    assert [(e.previous_status, e.status) for e in recorder.deployments] == [
        (None, "running"),
        ("running", "successful"),
    ]
    transitions = [(e.previous_client_status, e.client_status) for e in recorder.allocations]
    assert transitions[:2] == [(None, "pending"), ("pending", "running")]
    assert {e.job_id for e in recorder.allocations} == {"web"}


async def test_a_driver_no_node_has_fails_placement_with_missing_drivers(agent: Any) -> None:
    running, _ = agent
    status, body = await call(running, "PUT", "/v1/jobs", job("calls", driver="pycall"))
    assert status == 200

    async def failed_metrics() -> Any:
        """the evaluation recorded its placement failure"""
        _, ev = await call(running, "GET", f"/v1/evaluation/{body['EvalID']}")
        return (ev.get("FailedTGAllocs") or {}).get("app")

    metrics = await eventually(failed_metrics)
    assert metrics["ConstraintFiltered"] == {"missing drivers": 1}
    assert metrics["NodesFiltered"] == 1
    assert metrics["NodesEvaluated"] == 1

    spec = running.http_address
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "caravan.cli.main",
        "job",
        "status",
        "-address",
        f"http://{spec}",
        "calls",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert '* Constraint "missing drivers": 1 nodes excluded by filter' in out.decode()
