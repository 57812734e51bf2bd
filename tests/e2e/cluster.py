"""Separate ``caravan agent`` processes — servers and client-only agents — started from
config files on free ports of 127.0.0.1, killed and restarted the way an operator (or a
crash) would.

:class:`Cluster` owns every agent it starts. At teardown it stops the jobs still running
(so clients kill their tasks), stops the agents, and then removes whatever a killed client
left behind: the processes and containers named by the task handles in its state database,
since nothing else would ever stop them.

Agents run with bytecode caching on (in a cache directory of their own under the system's
temporary directory, never in the source tree), as an installed caravan does: restart times
then measure the agent, not the recompilation of every module.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import docker
from docker.errors import DockerException

from caravan_plugins.process import is_same_process

from .conftest import CARAVAN, REPO, free_ports

#: The environment of every agent: this one's, with bytecode caching (see module docstring).
AGENT_ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPYCACHEPREFIX": os.path.join(tempfile.gettempdir(), "caravan-e2e-pycache"),
}


@dataclass
class AgentProcess:
    """One agent: its config file, its log and (while it runs) its process.

    :ivar http: the HTTP API address of a server agent (client-only agents serve none).
    :ivar rpc: the RPC address of a server agent.
    :ivar data_dir: ``-data-dir`` (clients keep ``client/state.db`` and ``alloc/`` there).
    """

    name: str
    config: Path
    data_dir: Path
    log_path: Path
    http: str = ""
    rpc: str = ""
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> float:
        """Start the agent (again) with the same config and data dir; returns
        ``time.monotonic()`` at the spawn."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n==== start #{self.starts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [
                    str(CARAVAN),
                    "agent",
                    "-config",
                    str(self.config),
                    "-data-dir",
                    str(self.data_dir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=REPO,
                env=AGENT_ENV,
            )
        return time.monotonic()

    def kill9(self) -> None:
        """``kill -9`` the agent process alone (its tasks run in sessions of their own)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 15 s; a no-op if not running."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def check_running(self) -> None:
        """:raises RuntimeError: the agent has exited (with its log tail), so that waiting
        for it fails at once."""
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"agent {self.name} is not running\n{self.log_tail()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def current_log(self) -> str:
        """What the agent logged since its latest start."""
        return self.log().rpartition(f"==== start #{self.starts}\n")[2]

    def log_tail(self, lines: int = 30) -> str:
        return f"--- {self.name} log tail:\n" + "\n".join(self.log().splitlines()[-lines:])

    @property
    def state_db(self) -> Path:
        return self.data_dir / "client" / "state.db"

    def handles(self) -> dict[tuple[str, str], dict[str, Any]]:
        """``(alloc ID, task) -> driver state`` of every task handle the client stored."""
        if not self.state_db.exists():
            return {}
        db = sqlite3.connect(f"file:{self.state_db}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT alloc_id, task, handle FROM tasks").fetchall()
        finally:
            db.close()
        return {(a, t): json.loads(h)["driver_state"] for a, t, h in rows if h}

    def node_id(self) -> str:
        """The node ID the client stored on first start ("" before that)."""
        if not self.state_db.exists():
            return ""
        db = sqlite3.connect(f"file:{self.state_db}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'node_id'").fetchone()
        except sqlite3.OperationalError:
            return ""
        finally:
            db.close()
        return row[0] if row else ""

    def alloc_log(self, alloc_id: str, task: str, stream: str = "stdout") -> Path:
        """The live log file of ``task`` of ``alloc_id`` on this client."""
        return self.data_dir / "alloc" / alloc_id / "alloc" / "logs" / f"{task}.{stream}.0"


@dataclass
class Cluster:
    """Agents started in ``root``; see the module docstring for teardown."""

    root: Path
    agents: list[AgentProcess] = field(default_factory=list)
    jobs: set[str] = field(default_factory=set)

    @property
    def server(self) -> AgentProcess:
        return self.agents[0]

    async def start_server(
        self, heartbeat_grace: str = "10s", min_heartbeat_ttl: str = "10s", consul: int = -1
    ) -> AgentProcess:
        """A single-server region; returns once it has elected itself leader.

        :param heartbeat_grace, min_heartbeat_ttl: ``server { }`` liveness settings (Nomad's
            defaults unless given): a node missing heartbeats for up to twice the TTL plus
            the grace is marked ``down``.
        :param consul: the port of its Consul-compatible API (``-1``: not served).
        """
        http, rpc, serf = free_ports(3)
        extra = (
            "server {\n  enabled = true\n  bootstrap_expect = 1\n"
            f'  heartbeat_grace = "{heartbeat_grace}"\n'
            f'  min_heartbeat_ttl = "{min_heartbeat_ttl}"\n}}\n'
        )
        agent = self._agent("server", http, rpc, serf, extra, consul)
        agent.http = f"http://127.0.0.1:{http}"
        agent.rpc = f"127.0.0.1:{rpc}"
        agent.start()

        async def leader() -> Any:
            agent.check_running()
            return await self.get("/v1/status/leader")

        await self.eventually(leader, 30, "the server leads")
        return agent

    async def start_client(self, name: str, drivers: dict[str, str]) -> AgentProcess:
        """A client-only agent registering with the server over RPC; returns once its node
        is ``ready``.

        :param drivers: plugin name -> the body of its ``config { }`` block (exactly these
            plugins load).
        """
        plugins = "".join(
            f'plugin "{plugin}" {{\n  config {{\n{body}\n  }}\n}}\n'
            for plugin, body in drivers.items()
        )
        extra = f'client {{\n  enabled = true\n  servers = ["{self.server.rpc}"]\n}}\n{plugins}'
        agent = self._agent(name, *free_ports(3), extra)
        agent.start()
        await self.node_ready(agent)
        return agent

    async def node_ready(self, client: AgentProcess) -> str:
        """Wait until ``client``'s node is ``ready`` on the server; its ID."""

        async def ready() -> str:
            client.check_running()
            node = (await self.nodes()).get(client.node_id())
            return node["ID"] if node and node["Status"] == "ready" else ""

        return str(await self.eventually(ready, 60, f"{client.name}'s node is ready"))

    def _agent(
        self, name: str, http: int, rpc: int, serf: int, extra: str, consul: int = -1
    ) -> AgentProcess:
        home = self.root / name
        home.mkdir()
        config = home / "agent.hcl"
        config.write_text(
            f'name = "{name}"\nbind_addr = "127.0.0.1"\nlog_level = "DEBUG"\n'
            f"ports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n  consul = {consul}\n}}\n"
            + extra
        )
        agent = AgentProcess(name, config, home / "data", home / "agent.log")
        self.agents.append(agent)
        return agent

    def log_tails(self) -> str:
        return "\n".join(a.log_tail() for a in self.agents)

    # -- the HTTP API of the server ----------------------------------------------

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """``method path`` on the server's HTTP API; the decoded JSON.

        :raises AssertionError: any status but 200.
        """
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, self.server.http + path, json=body) as resp,
        ):
            if resp.status != 200:
                raise AssertionError(f"{method} {path}: {resp.status} {await resp.text()}")
            return await resp.json()

    async def get(self, path: str) -> Any:
        return await self.request("GET", path)

    async def run_job(self, hcl: str) -> str:
        """Parse ``hcl`` and register the job (``/v1/jobs/parse`` then ``/v1/jobs``)."""
        job = await self.request("POST", "/v1/jobs/parse", {"JobHCL": hcl, "Canonicalize": True})
        self.jobs.add(job["ID"])
        await self.request("POST", "/v1/jobs", {"Job": job})
        return str(job["ID"])

    async def allocations(self, job: str) -> list[dict[str, Any]]:
        """The job's allocations, each read in full (``/v1/allocation/:id``)."""
        stubs = await self.get(f"/v1/job/{job}/allocations")
        return [await self.get(f"/v1/allocation/{stub['ID']}") for stub in stubs]

    async def nodes(self) -> dict[str, dict[str, Any]]:
        """``/v1/nodes`` by node ID."""
        return {n["ID"]: n for n in await self.get("/v1/nodes")}

    async def eventually(self, check: Any, timeout: float, what: str) -> Any:
        """Call ``check()`` (awaiting its result if it is awaitable) until it returns
        something truthy; fail after ``timeout`` seconds saying ``what`` did not happen,
        with every agent's log tail."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = check()
                if inspect.isawaitable(last):
                    last = await last
            except (AssertionError, aiohttp.ClientError, OSError) as exc:
                last = exc
            else:
                if last:
                    return last
            await asyncio.sleep(0.2)
        raise AssertionError(f"{what} within {timeout}s (last: {last!r})\n{self.log_tails()}")

    # -- teardown ---------------------------------------------------------------------

    async def close(self) -> None:
        """Stop the jobs and wait (briefly) for the clients to kill their tasks, stop every
        agent, then kill what killed clients left running."""
        server_up = self.agents and self.server.process and self.server.process.poll() is None
        if server_up and self.jobs:
            with contextlib.suppress(AssertionError, aiohttp.ClientError, OSError):
                for job in self.jobs:
                    await self.request("DELETE", f"/v1/job/{job}")
                await self.eventually(self._all_stopped, 30, "every allocation stopped")
        for agent in reversed(self.agents):
            agent.stop()
        for agent in self.agents:
            _remove_leftovers(agent)

    async def _all_stopped(self) -> bool:
        running = self._live_clients()
        for job in self.jobs:
            for alloc in await self.get(f"/v1/job/{job}/allocations"):
                if alloc["NodeID"] in running and alloc["ClientStatus"] in ("pending", "running"):
                    return False
        return True

    def _live_clients(self) -> set[str]:
        return {
            a.node_id()
            for a in self.agents[1:]
            if a.process is not None and a.process.poll() is None
        }


def _remove_leftovers(agent: AgentProcess) -> None:
    """Kill the processes and remove the containers ``agent``'s task handles still name."""
    containers: list[str] = []
    for state in agent.handles().values():
        if "container_id" in state:
            containers.append(str(state["container_id"]))
        elif "pid" in state and is_same_process(int(state["pid"]), int(state["start_time"])):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(state["pid"]), signal.SIGKILL)
    if not containers:
        return
    try:
        client = docker.from_env()
    except DockerException:
        return
    with client:
        for container_id in containers:
            with contextlib.suppress(DockerException):
                client.containers.get(container_id).remove(force=True)


@contextlib.asynccontextmanager
async def cluster_in(root: Path) -> AsyncIterator[Cluster]:
    """A :class:`Cluster` in ``root``, closed (see :meth:`Cluster.close`) however the block
    exits."""
    cluster = Cluster(root)
    try:
        yield cluster
    finally:
        await cluster.close()
