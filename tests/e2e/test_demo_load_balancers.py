"""Demo 2 of the walkthrough behind real load balancers: three bootcamp instances tagged
``urlprefix-/`` share the traffic of

- NGINX and HAProxy kept in step with the catalog by ``caravan lb watch`` (started before
  the instances exist, so the traffic only flows once a render was reloaded), and
- NGINX run as a ``system`` job (raw_exec) whose ``template`` renders its config from the
  catalog and sends it SIGHUP on every change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Agent, eventually, free_ports
from .proxies import answered_by, proxy_behind_watch, shares, tally


async def demo_passing(agent: Agent) -> list[dict]:
    instances = await agent.get("/v1/service/bootcamp-demo")
    passing = [i for i in instances if set((i.get("Checks") or {}).values()) == {"passing"}]
    return instances if len(passing) == 3 else []


def assert_spread(result, requests: int) -> None:  # type: ignore[no-untyped-def]
    assert not result.failures, result.failures[:5]
    assert result.total == requests
    spread = shares(result)
    assert len(spread) == 3, spread
    assert all(0.25 <= share <= 0.45 for share in spread.values()), spread


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
async def test_watch_spreads_requests_over_the_three_instances(
    agent: Agent, bootcamp_v1: str, tmp_path: Path, kind: str
) -> None:
    with proxy_behind_watch(agent, kind, tmp_path) as proxy:
        agent.cli("job", "run", "-detach", "examples/demo.nomad")
        await eventually(lambda: demo_passing(agent), 40, "three passing instances", agent)
        await eventually(
            lambda: answered_by(proxy.url, 3),
            30,
            f"{kind} answers from the three instances\n{proxy.log()}",
            agent,
        )
        assert_spread(await tally(proxy.url, 300), 300)
        assert proxy.process.poll() is None, f"{kind} exited"
    agent.cli("job", "stop", "demo")


NGINX_JOB = """
job "nginx" {
  datacenters = ["dc1"]
  type        = "system"
  group "nginx" {
    task "nginx" {
      driver = "raw_exec"
      config {
        command = "/usr/sbin/nginx"
        args    = ["-g", "daemon off;", "-c", "${NOMAD_TASK_DIR}/nginx.conf",
                   "-p", "${NOMAD_TASK_DIR}"]
      }
      template {
        destination   = "local/nginx.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        splay         = "1s"
        data          = <<EOT
worker_processes 1;
pid {{ env("NOMAD_TASK_DIR") }}/nginx.pid;
error_log stderr;
events {}
http {
  access_log off;
  client_body_temp_path {{ env("NOMAD_TASK_DIR") }}/client_body;
  proxy_temp_path {{ env("NOMAD_TASK_DIR") }}/proxy;
  upstream backend {
{% for s in service("bootcamp-demo") %}
    server {{ s.Address }}:{{ s.Port }};
{% else %}
    server 127.0.0.1:65535;
{% endfor %}
  }
  server {
    listen 127.0.0.1:LISTEN_PORT;
    location / { proxy_pass http://backend; }
  }
}
EOT
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"""


async def test_nginx_system_job_renders_its_config_from_the_catalog(
    agent: Agent, bootcamp_v1: str, tmp_path: Path
) -> None:
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}/"
    agent.run_job(tmp_path, "nginx", NGINX_JOB.replace("LISTEN_PORT", str(port)))

    async def nginx_running() -> bool:
        return len(await agent.running("nginx")) == 1

    await eventually(nginx_running, 30, "the nginx system job runs", agent)
    # No instance yet: nginx serves its placeholder upstream, and the template re-renders
    # (and sends SIGHUP) once the demo's instances pass their checks.
    agent.cli("job", "run", "-detach", "examples/demo.nomad")
    await eventually(lambda: demo_passing(agent), 40, "three passing instances", agent)
    await eventually(lambda: answered_by(url, 3), 30, "nginx answers from the three", agent)
    assert_spread(await tally(url, 300), 300)
    [alloc] = await agent.running("nginx")
    assert alloc["TaskStates"]["nginx"]["Restarts"] == 0, "a signal, not a restart"
    events = [e["Type"] for e in alloc["TaskStates"]["nginx"]["Events"]]
    assert "Signaling" in events, events
    agent.cli("job", "stop", "demo")
    agent.cli("job", "stop", "nginx")
