"""A real ``caravan agent -dev`` subprocess for the compatibility tests: free ports of
127.0.0.1 and a temporary data dir given through a ``-config`` file, as a user would.

The agent is shared by the tests of one module (starting one takes a few seconds); each
test uses its own job IDs so that the tests do not see each other's work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from caravan_plugins.testing.ports import free_ports

#: The ``caravan`` console script of the environment running the tests.
CARAVAN = Path(sys.executable).with_name("caravan")

pytestmark = pytest.mark.integration


@dataclass
class DevAgent:
    """A running dev agent: its HTTP address and port, data dir and log file."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **params: Any) -> Any:
        """``GET`` an API path; the decoded JSON (fails on anything but 200)."""
        resp = requests.get(self.address + path, params=params, timeout=10)
        assert resp.status_code == 200, f"GET {path}: {resp.status_code} {resp.text}"
        return resp.json()

    def _run_cli(self, args: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CARAVAN), *args],
            env={**os.environ, "NOMAD_ADDR": self.address},
            capture_output=True,
            text=True,
            timeout=60,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``caravan <args>`` against this agent; fails when it exits non-zero."""
        done = self._run_cli(args)
        assert done.returncode == 0, f"caravan {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done

    def cli_failing(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``caravan <args>``, which must exit non-zero."""
        done = self._run_cli(args)
        assert done.returncode != 0, f"caravan {' '.join(args)} succeeded:\n{done.stdout}"
        return done

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def eventually(check: Callable[[], Any], timeout: float, what: str, agent: DevAgent) -> Any:
    """Call ``check()`` until it returns something truthy; fail after ``timeout`` seconds
    saying ``what`` did not happen, with the agent's log tail."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (AssertionError, requests.RequestException) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout}s (last: {last!r})\n{agent.log_tail()}")


@pytest.fixture(scope="module")
def dev_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevAgent]:
    """``caravan agent -dev`` on free ports, its node ready; stopped (and its tasks with
    it) when the module's tests are done."""
    root = tmp_path_factory.mktemp("agent")
    http, rpc, serf = free_ports(3)
    config = root / "agent.hcl"
    config.write_text(
        f'data_dir = "{root / "data"}"\n'
        f"ports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n  consul = -1\n}}\n"
    )
    log_path = root / "agent.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(CARAVAN), "agent", "-dev", "-config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    agent = DevAgent(process, http, root / "data", log_path)
    try:
        eventually(
            lambda: [n for n in agent.get("/v1/nodes") if n["Status"] == "ready"],
            45,
            "the dev agent's node is ready",
            agent,
        )
        yield agent
    finally:
        _stop(agent)


def _stop(agent: DevAgent) -> None:
    # Tasks outlive a stopped agent (as in Nomad): stop every job first so that no
    # raw_exec process is left behind, then the agent itself.
    try:
        for job in agent.get("/v1/jobs", namespace="*"):
            requests.delete(
                f"{agent.address}/v1/job/{job['ID']}",
                params={"purge": "true", "namespace": job["Namespace"]},
                timeout=10,
            )
        eventually(
            lambda: not [a for a in agent.get("/v1/allocations") if a["ClientStatus"] == "running"],
            20,
            "every allocation stopped",
            agent,
        )
    finally:
        agent.process.send_signal(signal.SIGTERM)
        try:
            agent.process.wait(15)
        except subprocess.TimeoutExpired:
            agent.process.kill()
            agent.process.wait(5)
