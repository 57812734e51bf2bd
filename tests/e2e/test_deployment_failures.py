"""Deployments that go wrong, and one that promotes itself, on a real agent and dockerd:

- a new version whose http check fails is unhealthy; with ``progress_deadline = 0`` the
  deployment fails at once and ``auto_revert`` registers the stable version again;
- a new version that never becomes healthy fails at its ``progress_deadline``;
- ``auto_promote = true`` promotes healthy canaries without an operator.
"""

from __future__ import annotations

from pathlib import Path

from .conftest import Agent, eventually, image_of

V1 = "jocatalin/kubernetes-bootcamp:v1"
V2 = "jocatalin/kubernetes-bootcamp:v2"

WEB = """
job "web" {
  datacenters = ["dc1"]
  type = "service"

  update {
    max_parallel      = 1
    min_healthy_time  = "2s"
    healthy_deadline  = "HEALTHY_DEADLINE"
    progress_deadline = "PROGRESS_DEADLINE"
    auto_revert       = AUTO_REVERT
    canary            = CANARY
    auto_promote      = AUTO_PROMOTE
  }

  group "web" {
    count = 2
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
          port "http" {}
        }
      }
      service {
        name = "web"
        port = "http"
        check {
          type     = "http"
          path     = "CHECK_PATH"
          interval = "1s"
          timeout  = "1s"
        }
      }
    }
  }
}
"""


def web(
    version: str,
    *,
    check_path: str = "/",
    healthy_deadline: str = "1m",
    progress_deadline: str = "2m",
    auto_revert: bool = False,
    canary: int = 0,
    auto_promote: bool = False,
) -> str:
    values = {
        "VERSION": version,
        "CHECK_PATH": check_path,
        "HEALTHY_DEADLINE": healthy_deadline,
        "PROGRESS_DEADLINE": progress_deadline,
        "AUTO_REVERT": str(auto_revert).lower(),
        "CANARY": str(canary),
        "AUTO_PROMOTE": str(auto_promote).lower(),
    }
    text = WEB
    for key, value in values.items():
        text = text.replace(key, value)
    return text


async def deployment_of(agent: Agent, version: int, status: str) -> dict:
    """The job's deployment of ``version`` once it has ``status``; else ``{}``."""
    for deployment in await agent.get("/v1/job/web/deployments"):
        if deployment["JobVersion"] == version and deployment["Status"] == status:
            return dict(deployment)
    return {}


async def two_healthy(agent: Agent, image: str) -> list[dict]:
    running = await agent.running("web")
    ok = len(running) == 2 and all(
        image_of(a) == image and (a.get("DeploymentStatus") or {}).get("Healthy") is True
        for a in running
    )
    return running if ok else []


async def start_stable_v1(agent: Agent, tmp_path: Path, **update: object) -> None:
    agent.run_job(tmp_path, "web-v1", web("v1", **update))  # type: ignore[arg-type]
    await eventually(lambda: deployment_of(agent, 0, "successful"), 40, "v1 deployed", agent)


async def test_failing_check_fails_the_deployment_and_reverts(
    agent: Agent, bootcamp_v1: str, bootcamp_v2: str, tmp_path: Path
) -> None:
    update = {"healthy_deadline": "6s", "progress_deadline": "0s", "auto_revert": True}
    await start_stable_v1(agent, tmp_path, **update)
    agent.run_job(tmp_path, "web-v2", web("v2", check_path="/missing", **update))

    failed = await eventually(
        lambda: deployment_of(agent, 1, "failed"), 40, "the v2 deployment failed", agent
    )
    assert failed["StatusDescription"] == (
        "Failed due to unhealthy allocations - rolling back to job version 0"
    )
    assert failed["TaskGroups"]["web"]["UnhealthyAllocs"] == 1
    bad = [a for a in await agent.allocations("web") if image_of(a) == V2]
    assert len(bad) == 1, "nothing more was replaced after the unhealthy allocation"
    assert bad[0]["DeploymentStatus"]["Healthy"] is False

    # The revert is job version 2 with version 0's spec, rolled out like any other.
    await eventually(lambda: deployment_of(agent, 2, "successful"), 60, "revert deployed", agent)
    await eventually(lambda: two_healthy(agent, V1), 30, "two healthy v1 allocations", agent)
    versions = await agent.get("/v1/job/web/versions")
    by_number = {v["Version"]: v for v in versions["Versions"]}
    assert by_number[2]["Stable"] is True and by_number[1]["Stable"] is False
    history = agent.cli("job", "history", "web").stdout
    assert "Version     = 2" in history or "Version      = 2" in history, history
    agent.cli("job", "stop", "web")


async def test_never_healthy_version_fails_at_the_progress_deadline(
    agent: Agent, bootcamp_v1: str, bootcamp_v2: str, tmp_path: Path
) -> None:
    update = {"healthy_deadline": "4s", "progress_deadline": "8s"}
    await start_stable_v1(agent, tmp_path, **update)
    agent.run_job(tmp_path, "web-v2", web("v2", check_path="/missing", **update))

    failed = await eventually(
        lambda: deployment_of(agent, 1, "failed"), 40, "the v2 deployment failed", agent
    )
    assert failed["StatusDescription"] == "Failed due to progress deadline"
    state = failed["TaskGroups"]["web"]
    assert state["HealthyAllocs"] == 0
    assert state["RequireProgressBy"] != "0001-01-01T00:00:00Z"
    job = await agent.get("/v1/job/web")
    assert job["Version"] == 1, "no auto_revert: the failed version stays registered"
    running = await agent.running("web")
    assert sorted(image_of(a) for a in running).count(V1) >= 1, "old allocations kept"
    agent.cli("job", "stop", "web")


async def test_auto_promote_promotes_healthy_canaries(
    agent: Agent, bootcamp_v1: str, bootcamp_v2: str, tmp_path: Path
) -> None:
    update = {"canary": 1, "auto_promote": True}
    await start_stable_v1(agent, tmp_path, **update)
    agent.run_job(tmp_path, "web-v2", web("v2", **update))

    async def pending() -> dict:
        deployment = await deployment_of(agent, 1, "running")
        wanted = "Deployment is running pending automatic promotion"
        return deployment if deployment.get("StatusDescription") == wanted else {}

    await eventually(pending, 20, "the canary deployment waits for auto promotion", agent)
    done = await eventually(
        lambda: deployment_of(agent, 1, "successful"), 60, "the canaries promoted", agent
    )
    assert done["TaskGroups"]["web"]["Promoted"] is True
    final = await eventually(lambda: two_healthy(agent, V2), 30, "two healthy v2", agent)
    assert all(a["DeploymentStatus"]["Canary"] is False for a in final)
    agent.cli("job", "stop", "web")
