"""Plugins as users get them: a fresh virtual environment with caravan's distributions and the
example plugins installed from this checkout (not editable), and ``caravan agent -dev`` run
from it. A pycall job runs to completion, the owner policy rejects a job without an owner,
the webhook notifier posts deployment events to a local receiver; after the pycall
distribution is uninstalled and the agent restarted, pycall is gone from ``plugin list`` and
from the node, and a job needing it fails placement with ``missing drivers``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest

from caravan_plugins.testing.ports import free_ports

pytestmark = [pytest.mark.slow, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTIONS = {
    "caravan-plugins": "plugins",
    "caravan": "core",
    "caravan-driver-raw-exec": "drivers/raw_exec",
    "caravan-driver-pycall": "examples/plugins/caravan-driver-pycall",
    "caravan-policy-owner": "examples/plugins/caravan-policy-owner",
    "caravan-notify-webhook": "examples/plugins/caravan-notify-webhook",
}

JOB = """
job "{id}" {{
  type = "{type}"
{meta}
  group "g" {{
    update {{
      min_healthy_time = "1s"
      healthy_deadline = "30s"
    }}
    task "t" {{
      driver = "pycall"
      config {{
        callable = "{callable}"
        args     = {args}
      }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}
"""
OWNER = '  meta {\n    owner = "platform"\n  }'


def job_file(root: Path, job_id: str, **fields: Any) -> str:
    values = {"type": "batch", "meta": OWNER, "callable": "builtins:print", "args": "[]"}
    values.update(fields)
    path = root / f"{job_id}.nomad"
    path.write_text(JOB.format(id=job_id, **values))
    return str(path)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the distributions this test installs."""
    root = tmp_path_factory.mktemp("venv")
    # Without pip (uv installs) the venv is ready in a second rather than twenty.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    refresh = [arg for name in DISTRIBUTIONS for arg in ("--refresh-package", name)]
    subprocess.run(
        ["uv", "pip", "install", "--quiet", "--python", str(root / "bin" / "python"), *refresh]
        + [str(REPO / path) for path in DISTRIBUTIONS.values()],
        check=True,
        timeout=170,
        cwd=root,
    )
    return root


class Receiver:
    """A webhook receiver on 127.0.0.1 that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        bodies: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.bodies = bodies
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        Thread(target=self.server.serve_forever, daemon=True).start()


class VenvAgent:
    """``caravan agent -dev`` from the venv, and the venv's ``caravan`` CLI against it."""

    def __init__(self, venv: Path, root: Path, env: dict[str, str]) -> None:
        self.venv, self.root = venv, root
        http, rpc, serf = free_ports(3)
        self.address = f"http://127.0.0.1:{http}"
        self.env = {**env, "NOMAD_ADDR": self.address, "PATH": f"{venv / 'bin'}:{env['PATH']}"}
        self.config = root / "agent.hcl"
        self.config.write_text(
            f"ports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n  consul = -1\n}}\n"
            'plugin "pycall" {\n  config {\n    enabled = true\n  }\n}\n'
            'plugin "policy_owner" {}\nplugin "notify_webhook" {}\n'
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.root / "agent.log").open("ab")
        self.process = subprocess.Popen(
            [str(self.venv / "bin" / "caravan"), "agent", "-dev", "-config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.root,
            start_new_session=True,
        )
        self.until(lambda: self.ready_node(), 60, "the agent's node is ready")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "caravan"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=90,
            cwd=self.root,
        )

    def get(self, path: str) -> Any:
        """The JSON at ``path``; None when the agent does not answer 200."""
        try:
            with urllib.request.urlopen(self.address + path, timeout=5) as resp:
                return json.loads(resp.read())
        except OSError:
            return None

    def ready_node(self) -> dict[str, Any] | None:
        nodes = self.get("/v1/nodes") or []
        ready = [n for n in nodes if n.get("Status") == "ready"]
        return self.get(f"/v1/node/{ready[0]['ID']}") if ready else None

    def until(self, check: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(0.5)
        log = (self.root / "agent.log").read_text(errors="replace")
        raise AssertionError(f"{what}: not within {timeout}s\n{log[-3000:]}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()


@pytest.fixture
def agent(venv: Path, tmp_path: Path, receiver: Receiver) -> Iterator[VenvAgent]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARAVAN_", "NOMAD_"))}
    env.pop("VIRTUAL_ENV", None)
    running = VenvAgent(venv, tmp_path, {**env, "CARAVAN_WEBHOOK_URL": receiver.url})
    running.start()
    yield running
    running.stop()


def test_installed_plugins_run_admit_and_notify(agent: VenvAgent, receiver: Receiver) -> None:
    listed = {p["name"]: p for p in json.loads(agent.cli("plugin", "list", "-json").stdout)}
    assert listed["pycall"]["distribution"] == "caravan-driver-pycall"
    assert {"policy_owner", "notify_webhook"} <= set(listed)

    done = agent.cli("job", "run", job_file(agent.root, "hello", args='["hello from pycall"]'))
    assert done.returncode == 0, done.stdout + done.stderr
    allocs = agent.until(
        lambda: [a for a in agent.get("/v1/job/hello/allocations") or [] if a["ClientStatus"]],
        30,
        "the pycall job has an allocation",
    )
    alloc_id = allocs[0]["ID"]
    agent.until(
        lambda: (agent.get(f"/v1/allocation/{alloc_id}") or {}).get("ClientStatus") == "complete",
        60,
        "the pycall job completes",
    )
    assert agent.cli("alloc", "logs", alloc_id, "t").stdout == "hello from pycall\n"

    done = agent.cli("job", "run", job_file(agent.root, "anon", meta=""))
    assert done.returncode == 1
    assert "400" in done.stderr
    assert 'policy_owner: job "anon" is missing meta "owner"' in done.stderr
    assert agent.get("/v1/job/anon") is None

    service = job_file(agent.root, "web", type="service", callable="time:sleep", args="[600]")
    done = agent.cli("job", "run", service)
    assert done.returncode == 0, done.stdout + done.stderr

    def deployment_statuses() -> list[str]:
        return [b["event"]["status"] for b in receiver.bodies if b["type"] == "deployment"]

    agent.until(lambda: "successful" in deployment_statuses(), 60, "the webhook got success")
    assert deployment_statuses() == ["running", "successful"]
    deployment = next(b for b in receiver.bodies if b["type"] == "deployment")
    assert deployment["event"]["job_id"] == "web"
    assert "deployment" in deployment["text"] and "web" in deployment["text"]
    agent.cli("job", "stop", "-detach", "web")


def test_uninstalled_driver_is_gone_after_restart(
    agent: VenvAgent, venv: Path, receiver: Receiver
) -> None:
    node = agent.ready_node()
    assert node is not None and node["Drivers"]["pycall"]["Healthy"]
    agent.stop()
    python = str(venv / "bin" / "python")
    subprocess.run(
        ["uv", "pip", "uninstall", "--quiet", "--python", python, "caravan-driver-pycall"],
        check=True,
        timeout=60,
    )
    listed = json.loads(agent.cli("plugin", "list", "-json").stdout)
    assert "pycall" not in {p["name"] for p in listed}
    agent.start()
    node = agent.ready_node()
    assert node is not None and "pycall" not in (node["Drivers"] or {})
    done = agent.cli("job", "run", job_file(agent.root, "later"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert '* Constraint "missing drivers": 1 nodes excluded by filter' in done.stdout
