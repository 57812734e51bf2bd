"""An instance of the demo whose container is killed turns ``critical`` in the catalog,
then ``passing`` again once the client restarted it (restart policy: 15 s delay)."""

from __future__ import annotations

import docker

from .conftest import Agent, eventually

SINGLE = """
job "solo" {
  datacenters = ["dc1"]
  group "demo" {
    task "bootcamp" {
      driver = "docker"
      config {
        image = "jocatalin/kubernetes-bootcamp:v1"
        port_map {
          http = 8080
        }
      }
      resources {
        network {
          port "http" {}
        }
      }
      service {
        name = "bootcamp-solo"
        port = "http"
        check {
          type     = "http"
          path     = "/"
          interval = "2s"
          timeout  = "1s"
        }
      }
    }
  }
}
"""


async def test_killed_instance_turns_critical_then_passing(
    agent: Agent, bootcamp_v1: str, docker_client: docker.DockerClient, tmp_path
) -> None:
    job = tmp_path / "solo.nomad"
    job.write_text(SINGLE)
    agent.cli("job", "run", "-detach", str(job))

    async def status() -> str:
        instances = await agent.get("/v1/service/bootcamp-solo")
        if len(instances) != 1:
            return ""
        return ",".join((instances[0].get("Checks") or {}).values())

    async def is_(wanted: str) -> bool:
        return await status() == wanted

    await eventually(lambda: is_("passing"), 30, "the instance passes its check", agent)
    alloc = (await agent.allocations("solo"))[0]
    container = docker_client.containers.get(f"bootcamp-{alloc['ID']}")
    container.kill()
    await eventually(lambda: is_("critical"), 15, "the killed instance turns critical", agent)
    await eventually(lambda: is_("passing"), 40, "the restarted instance passes again", agent)
    restarted = (await agent.allocations("solo"))[0]
    assert restarted["TaskStates"]["bootcamp"]["Restarts"] == 1
    agent.cli("job", "stop", "solo")
