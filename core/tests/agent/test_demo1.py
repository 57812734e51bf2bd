"""Demo 1 of the walkthrough against a real ``caravan agent -dev`` process (raw_exec tasks):
run, status, logs, plan a scale-up, run it with -check-index, stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from caravan.cli.main import main
from caravan_plugins.testing.ports import free_ports

JOB = """\
job "example" {
  datacenters = ["dc1"]
  group "cache" {
    count = COUNT
    update {
      max_parallel     = 1
      min_healthy_time = "1s"
    }
    task "redis" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo ready $NOMAD_ALLOC_INDEX; sleep 300"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"""

pytestmark = pytest.mark.integration


def wait_for(check, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("agent")
    http, rpc, serf = free_ports(3)
    config = root / "agent.hcl"
    config.write_text(f"ports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n}}\n")
    log = (root / "agent.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "caravan.cli.main",
            "agent",
            "-dev",
            "-config",
            str(config),
            "-data-dir",
            str(root / "data"),
            "-plugins",
            "raw_exec,mock",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    address = f"http://127.0.0.1:{http}"
    try:
        yield address
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        text = (root / "agent.log").read_text()
        assert "==> Caravan agent configuration:" in text, text
        assert "==> Caravan agent shut down" in text, text[-3000:]


@pytest.fixture
def cli(agent: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CARAVAN_ADDR", agent)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_demo1(cli, agent: str, tmp_path: Path):
    def node_ready():
        code, out, _ = cli("node", "status", "-json")
        return code == 0 and any(n["Status"] == "ready" for n in json.loads(out))

    wait_for(node_ready, 60, "the dev node to register")
    job_file = tmp_path / "example.nomad"
    job_file.write_text(JOB.replace("COUNT", "1"))

    # job run, monitored as a user would see it, interrupted once the deployment is watched.
    env = {**os.environ, "CARAVAN_ADDR": agent}
    proc = subprocess.Popen(
        [sys.executable, "-m", "caravan.cli.main", "job", "run", str(job_file)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("==> Monitoring deployment"):
            break
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    assert lines[0].startswith('==> Monitoring evaluation "')
    assert lines[1] == '    Evaluation triggered by job "example"'
    assert any(x.startswith('    Allocation "') and x.endswith('group "cache"') for x in lines)
    assert any(x.endswith('finished with status "complete"') for x in lines)

    code, out, _ = cli("status", "example")
    assert code == 0
    for section in (
        "ID            = example",
        "\nSummary\n",
        "\nLatest Deployment\n",
        "\nAllocations\n",
    ):
        assert section in out

    code, out, _ = cli("job", "allocs", "-t", "{{range .}}{{.ID}}\n{{end}}", "example")
    alloc_id = out.split()[0]
    wait_for(lambda: "ready 0" in cli("alloc", "logs", alloc_id[:8])[1], 30, "the task's output")

    job_file.write_text(JOB.replace("COUNT", "3"))
    code, out, _ = cli("job", "plan", str(job_file))
    assert code == 1, out
    assert '+/- Task Group: "cache" (2 create, 1 in-place update)' in out
    assert '  +/- Count: "1" => "3" (forces create)' in out
    assert "- All tasks successfully allocated." in out
    index = int(out.split("Job Modify Index: ")[1].split()[0])
    assert f"caravan job run -check-index {index} {job_file}" in out

    code, _, err = cli("job", "run", "-check-index", str(index + 100), str(job_file))
    assert code == 1 and err.endswith("Job not updated\n"), err
    code, out, err = cli("job", "run", "-detach", "-check-index", str(index), str(job_file))
    assert code == 0, err
    assert out.startswith("Job registration successful")

    def three_running():
        allocs = json.loads(cli("job", "allocs", "-json", "example")[1])
        return sum(a["ClientStatus"] == "running" for a in allocs) == 3

    wait_for(three_running, 40, "three running allocations")

    code, out, _ = cli("job", "stop", "-detach", "example")
    assert code == 0 and out.strip()

    def stopped():
        job = json.loads(cli("job", "status", "-json", "example")[1])
        return job["Stop"] is True

    wait_for(stopped, 20, "the job to stop")
    assert "(stopped)" in cli("job", "status")[1]
