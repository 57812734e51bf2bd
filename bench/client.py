"""Client agent benchmark: many raw_exec tasks on one client, and submit-to-running latency.

The servers run in this process (one server, its consensus applying commands at once) and
serve RPC on 127.0.0.1; the client agent runs in a child process talking to them over RPC,
so its CPU and memory are measured alone. Prints a table:

- ``--tasks`` ``sleep`` tasks (one job, one task each): time until all run, then the agent's
  CPU use while idle with all of them running, and its RSS. Idle CPU is measured once the
  agent has settled (at least ``--settle`` seconds after the servers see every task
  running, and until its CPU stops falling), over ``--idle`` seconds: the default 30 s
  holds at least one driver fingerprint (every 30 s), two heartbeats (the bench servers'
  TTL is 30 s; clients beat at half of it), a return of the blocking allocation query
  (here every 20 s without changes, rather than 300 s) and the agent's other loops:
  everything it does periodically while its tasks just run;
- p50 submit-to-running (job registered until the servers see the allocation ``running``)
  over ``--jobs`` single-task raw_exec jobs, and docker jobs (busybox image) next to plain
  ``docker run -d`` of the same image, when a docker daemon is reachable.

    .venv/bin/python bench/client.py [--tasks 1000] [--jobs 20] [--settle 10] [--idle 30]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from caravan.client import Client, ClientConfig
from caravan.rpc import RPCClient
from caravan.rpc.server import RPCServer
from caravan.server import Server, ServerConfig
from caravan.state import FSM, StateStore
from caravan.structs import Job, canonicalize
from caravan_plugins import PluginRegistry

TICK = os.sysconf("SC_CLK_TCK")
#: The longest wait for the agent to settle before its idle CPU is measured anyway.
SETTLE_MAX = 120.0
#: The agent's blocking allocation query returns after this many seconds without a change
#: (300 s by default): shorter than the idle window, so a return falls inside it.
ALLOC_WATCH_WAIT = 20.0


class LocalConsensus:
    """A one-member group: every command is committed and applied at once."""

    def __init__(self, fsm: FSM) -> None:
        self.fsm = fsm
        self.index = itertools.count(1)
        self.is_leader = True
        self.leader_address = "127.0.0.1:4647"

    async def apply(self, command: bytes) -> Any:
        return self.fsm.apply(next(self.index), command)

    def add_leadership_observer(self, cb: Callable[[bool], Awaitable[None]]) -> None:
        pass

    async def barrier(self) -> None:
        return None


# -- the agent process ----------------------------------------------------------------------


async def run_agent(data_dir: Path, address: str) -> None:
    registry = PluginRegistry(
        names=["raw_exec", "docker"], configs={"raw_exec": {"enabled": True}}
    ).load()
    config = ClientConfig(
        data_dir=data_dir,
        node_name="bench",
        network_address="127.0.0.1",
        cpu_total_compute=10_000_000,
        memory_total_mb=10_000_000,
        alloc_watch_wait=ALLOC_WATCH_WAIT,
    )
    async with Client(config, RPCClient([address]), registry, servers=[address]):
        await asyncio.Event().wait()


# -- measurements ---------------------------------------------------------------------------


def job(job_id: str, count: int, driver: str, config: dict[str, Any]) -> Job:
    return canonicalize(
        Job.from_api(
            {
                "ID": job_id,
                "Type": "service",
                "Datacenters": ["dc1"],
                "TaskGroups": [
                    {
                        "Name": "g",
                        "Count": count,
                        "EphemeralDisk": {"SizeMB": 20},
                        "Tasks": [
                            {
                                "Name": "t",
                                "Driver": driver,
                                "Config": config,
                                "Resources": {"CPU": 10, "MemoryMB": 10},
                                "LogConfig": {"MaxFiles": 1, "MaxFileSizeMB": 10},
                            }
                        ],
                    }
                ],
            }
        )
    )


def running(server: Server, job_id: str) -> int:
    return sum(
        1 for a in server.state.allocs_by_job("default", job_id) if a.client_status == "running"
    )


async def until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(0.002)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def settled(pid: int, minimum: float) -> float:
    """Wait until the agent's start-up work has died down; returns the seconds waited.

    At least ``minimum`` seconds, and then until the agent's CPU time over the last three
    1 s windows no longer falls below that of the three before (at most :data:`SETTLE_MAX`
    seconds), so the measured window holds its steady state rather than the tail of
    start-up: the last status updates, state writes and garbage from starting the tasks.
    """
    start = time.monotonic()
    ticks = [cpu_seconds(pid)]
    while True:
        await asyncio.sleep(1)
        ticks.append(cpu_seconds(pid))
        waited = time.monotonic() - start
        if waited >= SETTLE_MAX:
            return waited
        if waited >= minimum and len(ticks) >= 7:
            recent, earlier = ticks[-1] - ticks[-4], ticks[-4] - ticks[-7]
            if recent >= earlier:
                return waited


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def submit_to_running(
    server: Server, prefix: str, n: int, driver: str, config: dict[str, Any]
) -> list[float]:
    latencies = []
    for i in range(n):
        job_id = f"{prefix}-{i}"
        start = time.perf_counter()
        await server.job_register(job(job_id, 1, driver, config))
        await until(lambda j=job_id: running(server, j) == 1, 60)
        latencies.append(time.perf_counter() - start)
        await server.job_deregister("default", job_id)
    return latencies


def docker_run_latency(image: str, n: int) -> list[float]:
    latencies = []
    for _ in range(n):
        start = time.perf_counter()
        cid = subprocess.run(
            ["docker", "run", "-d", image, "sleep", "3600"], check=True, capture_output=True
        ).stdout.strip()
        latencies.append(time.perf_counter() - start)
        subprocess.run(["docker", "rm", "-f", cid], check=True, capture_output=True)
    return latencies


def docker_image() -> str | None:
    try:
        from caravan_plugins.testing.images import BUSYBOX_TAG, ensure_busybox_image

        ensure_busybox_image(BUSYBOX_TAG)
    except Exception as exc:
        print(f"docker: skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None
    return BUSYBOX_TAG


async def bench(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    fsm = FSM(StateStore())
    config = ServerConfig(num_schedulers=2, dequeue_timeout=0.05, min_heartbeat_ttl=30.0)
    server = Server(config, LocalConsensus(fsm), fsm)
    rpc = RPCServer("127.0.0.1:0")
    rpc.serve_endpoints(server)
    with tempfile.TemporaryDirectory(prefix="caravan-bench-") as data_dir:
        async with server:
            await rpc.start()
            agent = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--agent", data_dir, rpc.address
            )
            try:
                await until(lambda: bool(server.state.snapshot().nodes()), 30)
                lat = await submit_to_running(
                    server, "raw", args.jobs, "raw_exec", {"command": "sleep", "args": ["3600"]}
                )
                rows.append(("raw_exec submit->running p50", f"{_ms(lat)} ms", "<= 100 ms"))
                image = docker_image() if not args.no_docker else None
                if image is not None:
                    lat = await submit_to_running(
                        server,
                        "dock",
                        args.jobs,
                        "docker",
                        {"image": image, "command": "sleep", "args": ["3600"]},
                    )
                    plain = await asyncio.to_thread(docker_run_latency, image, args.jobs)
                    rows.append(("docker submit->running p50", f"{_ms(lat)} ms", ""))
                    rows.append(
                        ("docker run -d p50", f"{_ms(plain)} ms", "caravan <= this + 100 ms")
                    )
                start = time.perf_counter()
                await server.job_register(
                    job("many", args.tasks, "raw_exec", {"command": "sleep", "args": ["3600"]})
                )
                await until(lambda: running(server, "many") == args.tasks, 600)
                rows.append(
                    (f"{args.tasks} tasks: all running", f"{time.perf_counter() - start:.1f} s", "")
                )
                settle = await settled(agent.pid, args.settle)
                before = cpu_seconds(agent.pid)
                await asyncio.sleep(args.idle)
                idle = (cpu_seconds(agent.pid) - before) / args.idle * 100
                window = f"{args.idle:g} s after {settle:.0f} s"
                rows.append(
                    (f"agent idle CPU, {args.tasks} tasks ({window})", f"{idle:.2f} %", "<= 2 %")
                )
                rows.append(
                    (f"agent RSS, {args.tasks} tasks", f"{rss_mb(agent.pid):.0f} MB", "<= 300 MB")
                )
                await server.job_deregister("default", "many")
                await until(lambda: running(server, "many") == 0, 300)
            finally:
                agent.kill()
                await agent.wait()
                await rpc.stop()
    return rows


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--agent", nargs=2, metavar=("DATA_DIR", "ADDRESS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.agent:
        asyncio.run(run_agent(Path(args.agent[0]), args.agent[1]))
        return
    rows = asyncio.run(bench(args))
    print(f"{'measure':<48} {'value':>10}  target")
    for name, value, target in rows:
        print(f"{name:<48} {value:>10}  {target}")


if __name__ == "__main__":
    main()
