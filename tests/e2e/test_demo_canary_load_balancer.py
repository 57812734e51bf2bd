"""Demo 3 of the walkthrough behind a real NGINX kept current by ``caravan lb watch``:
with one v2 canary beside three v1 instances about a quarter of the requests reach v2,
after ``caravan deployment promote`` all of them do, and not one request fails during the
whole rollout. ``caravan lb render fabio`` prints the same canary split as a Fabio routing
table in Fabio's own grammar."""

from __future__ import annotations

import re
from pathlib import Path

from .conftest import REPO, Agent, eventually, image_of
from .proxies import answered_by, continuous_load, proxy_behind_watch, tally

V2 = "jocatalin/kubernetes-bootcamp:v2"

# Fabio's routing table grammar (fabiolb.net, "Routing table"): route add with optional
# weight, tags and opts clauses in that order; route weight with or without a service.
ROUTE_ADD = re.compile(
    r"^route add (?P<svc>\S+) (?P<src>\S+) (?P<dst>https?://\S+)"
    r'( weight (?P<weight>[0-9.]+))?( tags "(?P<tags>[^"]*)")?( opts "(?P<opts>[^"]*)")?$'
)
ROUTE_WEIGHT = re.compile(
    r"^route weight (?:(?P<svc>\S+) )?(?P<src>\S+) weight (?P<weight>[0-9.]+)"
    r'( tags "(?P<tags>[^"]*)")?$'
)


def canary_job(tmp_path: Path) -> Path:
    """``examples/demo-canary.nomad`` with a 2 s ``min_healthy_time`` and 1 s checks."""
    text = (REPO / "examples" / "demo-canary.nomad").read_text()
    text = text.replace('min_healthy_time  = "10s"', 'min_healthy_time  = "2s"')
    text = text.replace('interval = "10s"', 'interval = "1s"')
    assert '"2s"' in text and '"1s"' in text
    path = tmp_path / "demo-canary.nomad"
    path.write_text(text)
    return path


async def healthy_canary(agent: Agent) -> dict:
    for alloc in await agent.running("demo"):
        status = alloc.get("DeploymentStatus") or {}
        if status.get("Canary") and status.get("Healthy"):
            return alloc
    return {}


async def routed_canary(agent: Agent, url: str) -> bool:
    """The canary's instance passes its check and the proxy sends traffic to it."""
    result = await tally(url, 12)
    return not result.failures and result.by_version()["2"] > 0


async def test_canary_behind_nginx_gets_a_quarter_then_everything(
    agent: Agent, bootcamp_v1: str, bootcamp_v2: str, tmp_path: Path
) -> None:
    with proxy_behind_watch(agent, "nginx", tmp_path) as proxy:
        agent.cli("job", "run", "-detach", "examples/demo.nomad")
        await eventually(lambda: answered_by(proxy.url, 3), 60, "nginx answers from three", agent)

        async with continuous_load(proxy.url) as during:
            agent.cli("job", "run", "-detach", str(canary_job(tmp_path)))
            await eventually(lambda: healthy_canary(agent), 60, "a healthy canary", agent)
            await eventually(lambda: routed_canary(agent, proxy.url), 20, "canary routed", agent)

            split = agent.cli("lb", "split", "bootcamp-demo", "canary=25").stdout
            assert "4 instances" in split, split
            check_fabio_table(agent)
            quarter = await tally(proxy.url, 400)
            assert not quarter.failures, quarter.failures[:5]
            share = quarter.by_version()["2"] / 400
            assert 0.20 <= share <= 0.30, quarter.hosts

            deployment = await agent.latest_deployment("demo")
            agent.cli("deployment", "promote", deployment["ID"])

            async def all_v2() -> bool:
                if (await agent.latest_deployment("demo")).get("Status") != "successful":
                    return False
                running = await agent.running("demo")
                return len(running) == 3 and {image_of(a) for a in running} == {V2}

            await eventually(all_v2, 90, "three v2 allocations, deployment successful", agent)
            await eventually(
                lambda: answered_by(proxy.url, 3, version="2"), 20, "nginx sends to v2", agent
            )
            after = await tally(proxy.url, 100)
            assert not after.failures and after.by_version() == {"2": 100}, after.hosts

        [load] = during
        assert load.total > 200, load.total
        assert not load.failures, f"{len(load.failures)} failed: {load.failures[:5]}"
    agent.cli("job", "stop", "demo")


def check_fabio_table(agent: Agent) -> None:
    """``caravan lb render fabio`` while the 25 % canary split is set: four ``route add``
    lines and a ``route weight`` line for the canary subset, in Fabio's grammar."""
    table = agent.cli("lb", "render", "fabio").stdout
    lines = [line for line in table.splitlines() if line and not line.startswith("#")]
    adds = [ROUTE_ADD.match(line) for line in lines if line.startswith("route add ")]
    weights = [ROUTE_WEIGHT.match(line) for line in lines if line.startswith("route weight ")]
    assert len(adds) + len(weights) == len(lines), table
    assert all(adds) and all(weights), table
    assert len(adds) == 4, table
    assert {(m["svc"], m["src"]) for m in adds} == {("bootcamp-demo", "/")}
    # The canary's target carries the subset tag its route weight line selects; the others
    # share what is left, as untagged targets do in Fabio.
    assert sorted(m["tags"] or "" for m in adds) == ["", "", "", "canary"], table
    assert [(m["tags"], m["weight"]) for m in weights] == [("canary", "0.25")], table
    assert all(m["svc"] == "bootcamp-demo" and m["src"] == "/" for m in weights)
