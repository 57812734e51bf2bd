"""A real ``caravan agent -dev`` subprocess on free ports of 127.0.0.1, driven like a user
drives it: the ``caravan`` CLI and the HTTP API; tasks run in the local dockerd from the
locally built bootcamp images.

Each test gets its own agent (its own data dir and ports). At teardown the agent is
stopped and every container it started (labelled with its node ID) is removed, since an
agent leaves its tasks running when it stops, as Nomad's does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import docker
import pytest
from docker.errors import DockerException

from caravan_plugins.testing.images import BOOTCAMP_TAG, bootcamp_image
from caravan_plugins.testing.ports import free_ports

REPO = Path(__file__).resolve().parents[2]
CARAVAN = Path(sys.executable).parent / "caravan"
NODE_LABEL = "com.hashicorp.nomad.node_id"

pytestmark = pytest.mark.integration


@dataclass
class Agent:
    """A running agent: its HTTP address, data dir, log file and node ID."""

    process: subprocess.Popen[bytes]
    address: str
    data_dir: Path
    log_path: Path
    node_id: str = ""

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``caravan <args>`` against this agent."""
        env = {**os.environ, "NOMAD_ADDR": self.address}
        done = subprocess.run(
            [str(CARAVAN), *args], env=env, capture_output=True, text=True, timeout=60, cwd=REPO
        )
        if check and done.returncode != 0:
            raise AssertionError(f"caravan {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done

    async def get(self, path: str) -> Any:
        """``GET`` an API path; the decoded JSON."""
        async with aiohttp.ClientSession() as session, session.get(self.address + path) as resp:
            if resp.status != 200:
                raise AssertionError(f"GET {path}: {resp.status} {await resp.text()}")
            return await resp.json()

    async def allocations(self, job: str) -> list[dict[str, Any]]:
        """The job's allocations, each read in full (``/v1/allocation/:id``)."""
        stubs = await self.get(f"/v1/job/{job}/allocations")
        return [await self.get(f"/v1/allocation/{stub['ID']}") for stub in stubs]

    async def put(self, path: str, body: Any) -> Any:
        """``PUT`` a JSON body to an API path; the decoded JSON answer."""
        async with (
            aiohttp.ClientSession() as session,
            session.put(self.address + path, json=body) as resp,
        ):
            if resp.status != 200:
                raise AssertionError(f"PUT {path}: {resp.status} {await resp.text()}")
            return await resp.json()

    def run_job(self, directory: Path, name: str, hcl: str) -> None:
        """Write ``hcl`` to ``directory/name.nomad`` and ``caravan job run -detach`` it."""
        path = directory / f"{name}.nomad"
        path.write_text(hcl)
        self.cli("job", "run", "-detach", str(path))

    async def running(self, job: str) -> list[dict[str, Any]]:
        """The job's allocations whose client status is ``running``, in full."""
        return [a for a in await self.allocations(job) if a["ClientStatus"] == "running"]

    async def latest_deployment(self, job: str) -> dict[str, Any]:
        """The job's newest deployment (``/v1/job/:id/deployment``)."""
        return dict(await self.get(f"/v1/job/{job}/deployment") or {})

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float, what: str, agent: Agent | None = None
) -> Any:
    """Await ``check()`` until it returns something truthy; fail after ``timeout`` seconds
    saying ``what`` did not happen (with the agent's log tail)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await check()
        except (AssertionError, aiohttp.ClientError) as exc:
            last = exc
        else:
            if last:
                return last
        await asyncio.sleep(0.25)
    tail = "\n".join(agent.log().splitlines()[-40:]) if agent else ""
    raise AssertionError(f"{what} within {timeout}s (last: {last!r})\n{tail}")


async def http_text(url: str) -> str:
    """The body at ``url`` (fails on anything but 200)."""
    timeout = aiohttp.ClientTimeout(total=3)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as resp:
        assert resp.status == 200, f"{url}: {resp.status}"
        return await resp.text()


async def stop_every_job(agent: Agent, timeout: float = 20) -> None:
    """Stop every job and wait (up to ``timeout`` s) until no allocation is pending or
    running, so that tasks the agent would leave behind (raw_exec processes) are killed."""
    try:
        jobs = await agent.get("/v1/jobs")
        async with aiohttp.ClientSession() as session:
            for job in jobs:
                async with session.delete(f"{agent.address}/v1/job/{job['ID']}"):
                    pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            allocs = await agent.get("/v1/allocations")
            if all(a["ClientStatus"] not in ("pending", "running") for a in allocs):
                return
            await asyncio.sleep(0.25)
    except (AssertionError, aiohttp.ClientError, OSError):
        return


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    """The local dockerd; the tests fail (never skip) without one."""
    try:
        client = docker.from_env()
        client.ping()
    except DockerException as exc:
        pytest.fail(f"dockerd is not reachable ({exc}): run scripts/system-deps.sh as root")
    yield client
    client.close()


@pytest.fixture(scope="session")
def bootcamp_v1(docker_client: docker.DockerClient) -> str:
    """The walkthrough's ``jocatalin/kubernetes-bootcamp:v1``, built locally."""
    return bootcamp_image(BOOTCAMP_TAG, 1, client=docker_client)


@pytest.fixture(scope="session")
def bootcamp_v2(docker_client: docker.DockerClient) -> str:
    """``jocatalin/kubernetes-bootcamp:v2``, built locally (answers ``v=2``)."""
    return bootcamp_image("jocatalin/kubernetes-bootcamp:v2", 2, client=docker_client)


def http_port(alloc: dict[str, Any], label: str = "http") -> int:
    """The host port an allocation was given for its ``label`` port."""
    ports = alloc["AllocatedResources"]["Shared"]["Ports"]
    return int(next(p["Value"] for p in ports if p["Label"] == label))


def image_of(alloc: dict[str, Any], task: str = "bootcamp") -> str:
    """The docker image an allocation's ``task`` runs."""
    group = next(g for g in alloc["Job"]["TaskGroups"] if g["Name"] == alloc["TaskGroup"])
    return str(next(t for t in group["Tasks"] if t["Name"] == task)["Config"]["image"])


@pytest.fixture
async def agent(
    tmp_path_factory: pytest.TempPathFactory, docker_client: docker.DockerClient
) -> AsyncIterator[Agent]:
    """``caravan agent -dev`` with a config file giving it free ports and a data dir."""
    root = tmp_path_factory.mktemp("agent")
    http, rpc, serf, consul = free_ports(4)
    config = root / "agent.hcl"
    config.write_text(
        f'data_dir = "{root / "data"}"\n'
        f"ports {{\n  http = {http}\n  rpc = {rpc}\n  serf = {serf}\n  consul = {consul}\n}}\n"
    )
    log_path = root / "agent.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(CARAVAN), "agent", "-dev", "-config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Agent(process, f"http://127.0.0.1:{http}", root / "data", log_path)
    try:

        async def ready_node() -> str:
            nodes = await running.get("/v1/nodes")
            ready = [n for n in nodes if n.get("Status") == "ready"]
            return ready[0]["ID"] if ready else ""

        running.node_id = await eventually(ready_node, 30, "the dev agent's node is ready")
        yield running
    finally:
        if process.poll() is None:
            await stop_every_job(running)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        if running.node_id:
            for container in docker_client.containers.list(
                all=True, filters={"label": f"{NODE_LABEL}={running.node_id}"}
            ):
                container.remove(force=True)
