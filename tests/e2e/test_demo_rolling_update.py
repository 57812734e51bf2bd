"""Demo 1 of the walkthrough, for real: a service job with an ``update`` block is scaled
1 → 3 (the running allocation is kept) and then given a new image, which a deployment rolls
out one allocation at a time, each replacement waiting until the previous one had been
healthy for ``min_healthy_time``; the deployment ends ``successful`` and the job version
``stable``."""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from pathlib import Path

from .conftest import Agent, eventually, image_of

MIN_HEALTHY = 2.0

EXAMPLE = """
job "example" {
  datacenters = ["dc1"]
  type = "service"

  update {
    max_parallel      = 1
    min_healthy_time  = "2s"
    healthy_deadline  = "1m"
    progress_deadline = "2m"
    auto_revert       = false
    canary            = 0
  }

  group "cache" {
    count = COUNT

    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    task "bootcamp" {
      driver = "docker"
      config {
        image = "jocatalin/kubernetes-bootcamp:VERSION"
        port_map {
          http = 8080
        }
      }
      resources {
        cpu    = 100
        memory = 64
        network {
          mbits = 10
          port "http" {}
        }
      }
      service {
        name = "example-web"
        tags = ["global", "cache"]
        port = "http"
        check {
          name     = "alive"
          type     = "http"
          path     = "/"
          interval = "1s"
          timeout  = "1s"
        }
      }
    }
  }
}
"""


def example(count: int, version: str) -> str:
    return EXAMPLE.replace("COUNT", str(count)).replace("VERSION", version)


def when(stamp: str) -> float:
    """An RFC 3339 time stamp as seconds since the epoch."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


async def settled(agent: Agent, job: str, count: int, image: str) -> list[dict]:
    """``count`` healthy allocations of ``image`` running and the latest deployment
    successful; otherwise an empty list."""
    deployment = await agent.latest_deployment(job)
    if deployment.get("Status") != "successful":
        return []
    running = await agent.running(job)
    healthy = [
        a
        for a in running
        if image_of(a) == image and (a.get("DeploymentStatus") or {}).get("Healthy") is True
    ]
    return running if len(running) == count and len(healthy) == count else []


async def test_scale_up_keeps_allocation_then_rolls_image_one_at_a_time(
    agent: Agent, bootcamp_v1: str, bootcamp_v2: str, tmp_path: Path
) -> None:
    v1 = "jocatalin/kubernetes-bootcamp:v1"
    v2 = "jocatalin/kubernetes-bootcamp:v2"
    agent.run_job(tmp_path, "one", example(1, "v1"))
    [first] = await eventually(
        lambda: settled(agent, "example", 1, v1), 40, "one healthy v1 allocation", agent
    )

    agent.run_job(tmp_path, "three", example(3, "v1"))
    three = await eventually(
        lambda: settled(agent, "example", 3, v1), 60, "three healthy v1 allocations", agent
    )
    assert first["ID"] in {a["ID"] for a in three}, "the first allocation was replaced"
    scaled = await agent.latest_deployment("example")
    counters = scaled["TaskGroups"]["cache"]
    assert scaled["JobVersion"] == 1
    assert (counters["DesiredTotal"], counters["PlacedAllocs"], counters["HealthyAllocs"]) == (
        3,
        3,
        3,
    ), counters

    agent.run_job(tmp_path, "v2", example(3, "v2"))
    rolled = await eventually(
        lambda: settled(agent, "example", 3, v2), 120, "three healthy v2 allocations", agent
    )
    deployment = await agent.latest_deployment("example")
    assert deployment["JobVersion"] == 2
    assert deployment["StatusDescription"] == "Deployment completed successfully"
    state = deployment["TaskGroups"]["cache"]
    assert (state["DesiredTotal"], state["PlacedAllocs"], state["HealthyAllocs"]) == (3, 3, 3)
    assert state["UnhealthyAllocs"] == 0

    # One at a time: each replacement started only once the one before it had been
    # healthy for min_healthy_time (its health time stamp is taken after that wait).
    steps = sorted(
        (when(a["TaskStates"]["bootcamp"]["StartedAt"]), when(a["DeploymentStatus"]["Timestamp"]))
        for a in rolled
    )
    for (started, healthy), (next_started, _) in itertools.pairwise(steps):
        assert healthy - started >= MIN_HEALTHY - 0.2
        assert next_started >= healthy - 0.2, steps
    old = [a for a in await agent.allocations("example") if image_of(a) == v1]
    assert len(old) == 3 and all(a["DesiredStatus"] == "stop" for a in old)
    assert all(a["ClientStatus"] == "complete" for a in old)

    history = agent.cli("job", "history", "-version", "2", "example").stdout
    assert re.search(r"^Stable\s+= true$", history, re.M), history
    agent.cli("job", "stop", "example")
