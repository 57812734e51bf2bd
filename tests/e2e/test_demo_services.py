"""Demo 2 of the walkthrough, for real: ``caravan job run examples/demo.nomad`` places three
bootcamp containers whose ports are published on 127.0.0.1, registers the three
``bootcamp-demo`` instances with passing http checks, and ``caravan job stop`` removes
them."""

from __future__ import annotations

import re

from .conftest import Agent, eventually, http_text

GREETING = re.compile(r"Running on: (\S+) \| v=1")


def http_port(alloc: dict) -> int:
    ports = alloc["AllocatedResources"]["Shared"]["Ports"]
    return next(p["Value"] for p in ports if p["Label"] == "http")


async def test_demo_runs_three_instances_registered_with_passing_checks(
    agent: Agent, bootcamp_v1: str
) -> None:
    agent.cli("job", "run", "-detach", "examples/demo.nomad")

    async def three_running() -> list[dict]:
        allocs = await agent.allocations("demo")
        running = [a for a in allocs if a["ClientStatus"] == "running"]
        return running if len(running) == 3 else []

    allocs = await eventually(three_running, 30, "three demo allocations running", agent)
    hosts = set()
    for alloc in allocs:
        body = await eventually(
            lambda a=alloc: http_text(f"http://127.0.0.1:{http_port(a)}/"),
            15,
            f"allocation {alloc['ID']} answers on its published port",
            agent,
        )
        match = GREETING.search(body)
        assert match, body
        hosts.add(match.group(1))
    assert len(hosts) == 3

    async def passing_instances() -> list[dict]:
        instances = await agent.get("/v1/service/bootcamp-demo")
        healthy = [i for i in instances if set((i.get("Checks") or {}).values()) == {"passing"}]
        return instances if len(healthy) == 3 else []

    instances = await eventually(passing_instances, 30, "three passing instances", agent)
    by_alloc = {i["AllocID"]: i for i in instances}
    assert set(by_alloc) == {a["ID"] for a in allocs}
    for alloc in allocs:
        instance = by_alloc[alloc["ID"]]
        assert instance["Address"] == "127.0.0.1"
        assert instance["Port"] == http_port(alloc)
        assert instance["Tags"] == ["urlprefix-/"]
        assert instance["NodeID"] == agent.node_id
        assert instance["ID"] == f"_nomad-task-{alloc['ID']}-bootcamp-bootcamp-demo-http"

    agent.cli("job", "stop", "demo")

    async def gone() -> bool:
        return await agent.get("/v1/service/bootcamp-demo") == []

    await eventually(gone, 20, "the instances are deregistered after job stop", agent)
