"""Demo 3 of the walkthrough, for real: ``examples/demo.nomad`` (three v1 instances), then
``examples/demo-canary.nomad`` places one v2 canary beside them and waits for promotion;
``caravan deployment promote`` rolls the rest, leaving three v2 allocations, the old ones
complete and the job version stable."""

from __future__ import annotations

import re

from .conftest import Agent, eventually, image_of

V1 = "jocatalin/kubernetes-bootcamp:v1"
V2 = "jocatalin/kubernetes-bootcamp:v2"
NEEDS_PROMOTION = "Deployment is running but requires manual promotion"


def healthy(alloc: dict) -> bool:
    return (alloc.get("DeploymentStatus") or {}).get("Healthy") is True


def canary(alloc: dict) -> bool:
    return (alloc.get("DeploymentStatus") or {}).get("Canary") is True


async def test_canary_waits_for_promotion_then_rolls_out(
    agent: Agent, bootcamp_v1: str, bootcamp_v2: str
) -> None:
    agent.cli("job", "run", "-detach", "examples/demo.nomad")

    async def three_v1() -> list[dict]:
        running = await agent.running("demo")
        return running if len(running) == 3 and {image_of(a) for a in running} == {V1} else []

    originals = await eventually(three_v1, 40, "three v1 allocations running", agent)

    agent.cli("job", "run", "-detach", "examples/demo-canary.nomad")

    async def healthy_canary() -> list[dict]:
        running = await agent.running("demo")
        canaries = [a for a in running if canary(a) and healthy(a)]
        return running if len(running) == 4 and len(canaries) == 1 else []

    four = await eventually(healthy_canary, 60, "a healthy v2 canary beside three v1", agent)
    [the_canary] = [a for a in four if canary(a)]
    assert image_of(the_canary) == V2
    assert sorted(image_of(a) for a in four if not canary(a)) == [V1] * 3
    assert {a["ID"] for a in four if not canary(a)} == {a["ID"] for a in originals}

    deployment = await agent.latest_deployment("demo")
    assert deployment["Status"] == "running"
    assert deployment["StatusDescription"] == NEEDS_PROMOTION
    assert deployment["TaskGroups"]["demo"]["PlacedCanaries"] == [the_canary["ID"]]
    status = agent.cli("deployment", "status", deployment["ID"][:8]).stdout
    assert NEEDS_PROMOTION in status, status

    agent.cli("deployment", "promote", deployment["ID"])

    async def rolled_out() -> list[dict]:
        if (await agent.latest_deployment("demo")).get("Status") != "successful":
            return []
        running = await agent.running("demo")
        ok = len(running) == 3 and all(image_of(a) == V2 and healthy(a) for a in running)
        return running if ok else []

    final = await eventually(rolled_out, 120, "three healthy v2 allocations", agent)
    assert the_canary["ID"] in {a["ID"] for a in final}, "the promoted canary kept running"
    promoted = next(a for a in final if a["ID"] == the_canary["ID"])
    assert promoted["DeploymentStatus"]["Canary"] is False
    everything = await agent.allocations("demo")
    old = [a for a in everything if a["ID"] in {o["ID"] for o in originals}]
    assert all(a["DesiredStatus"] == "stop" and a["ClientStatus"] == "complete" for a in old)

    done = await agent.latest_deployment("demo")
    assert done["StatusDescription"] == "Deployment completed successfully"
    assert done["TaskGroups"]["demo"]["Promoted"] is True
    history = agent.cli("job", "history", "-version", str(done["JobVersion"]), "demo").stdout
    assert re.search(r"^Stable\s+= true$", history, re.M), history
    agent.cli("job", "stop", "demo")
