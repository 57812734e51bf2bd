"""C1M in one process: place N jobs x M instances on simulated nodes through the real server.

Every placement goes the production path: ``Server.job_register`` writes the job and its
evaluation through the consensus group, the eval broker hands the evaluation to a scheduler
worker, the worker runs the scheduler on a snapshot in a thread, the plan applier re-checks
each node against the newest state and commits the plan through the consensus group into the
FSM and state store. No tasks run: nodes are registered, never heartbeat (their TTL is set
far beyond the run) and never report allocation status.

The consensus group is a real single-server ``RaftGroup`` (in-memory log, RPC on a loopback
port) unless ``--stand-in``, which applies each command to the FSM as it is proposed (no log).
``fsm_s`` is the time the FSM spent decoding and applying committed commands; ``raft_wait_s``
is the time writers waited for their commands to commit and apply (Raft's batching and log on
top of ``fsm_s``; with ``--stand-in`` the two are the same work).

Nodes and then jobs are registered through the real endpoints, ``--submitters`` calls in
flight at a time (C1M's clients submitted concurrently); ``node_setup_s`` is the time the
nodes took, ``register_s`` and ``register_p50_ms``/``register_p99_ms`` what registering the
jobs took while scheduling had started. The jobs' deployment progress deadline is set beyond
any run, since no simulated allocation ever reports health. ``--snapshot-threshold`` changes
how many Raft entries the group applies before it snapshots the whole state (at most once
per ``raft_snapshot_interval``, 120 to 240 s, unless 8 thresholds have piled up).

The process runs the garbage collector as a server should (``tune_gc()`` of
:mod:`caravan.state.gc_policy`, at start-up and again after setup); ``--default-gc`` keeps
CPython's defaults.

    .venv/bin/python bench/scheduler.py                       # CI-sized: 500 nodes, 50 x 100
    .venv/bin/python bench/scheduler.py --nodes 5000 --jobs 1000 --count 1000   # C1M
    .venv/bin/python bench/scheduler.py --profile 25          # top 25 functions by own time
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import itertools
import math
import os
import pstats
import resource
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import caravan.server.worker as worker_module
from caravan.server import Server, ServerConfig
from caravan.server.testing import single_server_group
from caravan.state import FSM, StateStore
from caravan.state.gc_policy import tune_gc
from caravan.structs import Job, Node, canonicalize

#: (CPU MHz, memory MB) of the simulated node sizes, used round-robin.
NODE_SIZES = ((4000, 8192), (8000, 16384), (16000, 32768))
RACKS = 10
#: The jobs' deployment progress deadline: longer than any run.
PROGRESS_DEADLINE_NS = 24 * 3600 * 1_000_000_000


class TimedFSM:
    """The FSM, timing what it spends applying committed commands."""

    def __init__(self, fsm: FSM) -> None:
        self.fsm = fsm
        self.store = fsm.store
        self.seconds = 0.0

    def apply(self, index: int, data: bytes) -> Any:
        started = time.perf_counter()
        try:
            return self.fsm.apply(index, data)
        finally:
            self.seconds += time.perf_counter() - started

    def snapshot(self) -> bytes:
        return self.fsm.snapshot()

    def snapshot_encoder(self) -> Callable[[], bytes]:
        return self.fsm.snapshot_encoder()

    def restore(self, data: bytes) -> None:
        self.fsm.restore(data)


class StandInConsensus:
    """A one-member group that applies every command at once (no log)."""

    def __init__(self, fsm: TimedFSM) -> None:
        self.fsm = fsm
        self.index = itertools.count(1)
        self.is_leader = True
        self.leader_address = "127.0.0.1:4647"

    async def apply(self, command: bytes) -> Any:
        return self.fsm.apply(next(self.index), command)

    def add_leadership_observer(self, cb: Any) -> None:
        return None

    async def barrier(self) -> None:
        return None


class TimedGroup:
    """Forwards to a consensus group, timing how long writers wait for their commands."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.wait_seconds = 0.0

    @property
    def is_leader(self) -> bool:
        return self.inner.is_leader

    @property
    def leader_address(self) -> str:
        return self.inner.leader_address

    async def apply(self, command: bytes) -> Any:
        started = time.perf_counter()
        try:
            return await self.inner.apply(command)
        finally:
            self.wait_seconds += time.perf_counter() - started

    def add_leadership_observer(self, cb: Any) -> None:
        self.inner.add_leadership_observer(cb)

    async def barrier(self) -> None:
        await self.inner.barrier()


@contextlib.asynccontextmanager
async def consensus_group(
    fsm: TimedFSM, stand_in: bool, snapshot_threshold: int | None = None
) -> AsyncIterator[TimedGroup]:
    """A started single-server group over ``fsm`` (a real ``RaftGroup`` unless ``stand_in``)."""
    if stand_in:
        yield TimedGroup(StandInConsensus(fsm))
        return
    async with single_server_group(
        fsm, tick_interval=0.1, apply_timeout=30.0, snapshot_threshold=snapshot_threshold
    ) as group:
        yield TimedGroup(group)


def make_node(i: int) -> Node:
    cpu, memory = NODE_SIZES[i % len(NODE_SIZES)]
    return Node.from_api(
        {
            "ID": f"node-{i:05d}",
            "Name": f"node-{i:05d}",
            "Datacenter": "dc1",
            "Status": "ready",
            "NodeClass": f"class-{i % len(NODE_SIZES)}",
            "Attributes": {"kernel.name": "linux", "unique.hostname": f"node-{i:05d}"},
            "Meta": {"rack": f"r{i % RACKS}"},
            "Drivers": {"mock": {"Detected": True, "Healthy": True}},
            "NodeResources": {
                "Cpu": {"CpuShares": cpu},
                "Memory": {"MemoryMB": memory},
                "Disk": {"DiskMB": 100_000},
            },
        }
    )


def make_job(i: int, count: int, constrained: bool) -> Job:
    constraints = (
        [{"LTarget": "${meta.rack}", "RTarget": "r0", "Operand": "!="}] if constrained else None
    )
    return canonicalize(
        Job.from_api(
            {
                "ID": f"job-{i:04d}",
                "Type": "service",
                "Datacenters": ["dc1"],
                "Constraints": constraints,
                # No simulated allocation ever reports health, so with the default progress
                # deadline (10 minutes) every deployment of a long run would fail and be
                # re-evaluated: work a real cluster does not do while it is placing.
                "Update": {"ProgressDeadline": PROGRESS_DEADLINE_NS},
                "TaskGroups": [
                    {
                        "Name": "app",
                        "Count": count,
                        "Tasks": [
                            {
                                "Name": "app",
                                "Driver": "mock",
                                "Config": {},
                                "Resources": {"CPU": 20, "MemoryMB": 32},
                            }
                        ],
                    }
                ],
            }
        )
    )


class ProfiledScheduler:
    """Wraps a scheduler so its run (in a worker thread) is profiled."""

    def __init__(self, inner: Any, sink: list[cProfile.Profile]) -> None:
        self.inner = inner
        self.sink = sink

    def process(self, *args: Any) -> None:
        prof = cProfile.Profile()
        prof.enable()
        try:
            self.inner.process(*args)
        finally:
            prof.disable()
            self.sink.append(prof)


def packing_lower_bound(nodes: list[Node], cpu: int, memory: int) -> int:
    """The fewest nodes (largest first) whose capacity covers the total demand."""
    caps = sorted(
        ((n.node_resources.cpu.cpu_shares, n.node_resources.memory.memory_mb) for n in nodes),
        reverse=True,
    )
    have_cpu = have_mem = 0
    for used, (c, m) in enumerate(caps, start=1):
        have_cpu += c
        have_mem += m
        if have_cpu >= cpu and have_mem >= memory:
            return used
    return len(caps)


async def submit(
    endpoint: Callable[[Any], Awaitable[Any]], items: list[Any], n: int
) -> list[float]:
    """Call ``endpoint`` on every item with ``n`` submitters in flight (as C1M's clients did);
    returns each call's latency in seconds."""
    pending = iter(items)
    latencies: list[float] = []

    async def submitter() -> None:
        for item in pending:
            started = time.perf_counter()
            await endpoint(item)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(submitter() for _ in range(max(1, n))))
    return latencies


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by the nearest-rank method; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    fsm = TimedFSM(FSM(StateStore()))
    async with consensus_group(fsm, args.stand_in, args.snapshot_threshold) as consensus:
        return await _run(args, fsm, consensus)


async def _run(args: argparse.Namespace, fsm: TimedFSM, consensus: TimedGroup) -> dict[str, Any]:
    config = ServerConfig(
        num_schedulers=args.workers,
        min_heartbeat_ttl=1e6,
        eval_nack_timeout=600.0,
        dequeue_timeout=0.05,
    )
    server = Server(config, consensus, fsm.fsm)
    scheduler_profiles: list[cProfile.Profile] = []
    if args.profile:
        plain = worker_module.new_scheduler
        worker_module.new_scheduler = lambda kind, memo: ProfiledScheduler(
            plain(kind, memo), scheduler_profiles
        )
    nodes = [make_node(i) for i in range(args.nodes)]
    target = args.jobs * args.count
    loop_profile = cProfile.Profile()
    async with server:
        if not args.default_gc:
            tune_gc()
        setup_started = time.perf_counter()
        await submit(server.node_register, nodes, args.submitters)
        setup = time.perf_counter() - setup_started
        if not args.default_gc:
            tune_gc()
        fsm.seconds = consensus.wait_seconds = 0.0
        started = time.perf_counter()
        cpu_started = time.process_time()
        if args.profile:
            loop_profile.enable()
        jobs = [
            make_job(i, args.count, bool(args.constrain_every and i % args.constrain_every == 0))
            for i in range(args.jobs)
        ]
        register_latencies = await submit(server.job_register, jobs, args.submitters)
        registered = time.perf_counter() - started
        while True:
            placed = fsm.store.alloc_count()
            done = placed >= target and not any(server.broker.stats().values())
            if done or time.perf_counter() - started > args.timeout:
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        if args.profile:
            loop_profile.disable()
        eval_times = sorted(t for w in server.workers for t in w.eval_times)
        snap = fsm.store.snapshot()
        used_nodes = sum(1 for n in nodes if snap.has_members("allocs.node", n.id))
        refusals = len(server.plan_applier.refusals)
    lower = packing_lower_bound(nodes, placed * 20, placed * 32)
    result = {
        "nodes": args.nodes,
        "jobs": args.jobs,
        "count": args.count,
        "workers": args.workers,
        "placed": placed,
        "target": target,
        "total_s": elapsed,
        "cpu_s": cpu,
        "submitters": args.submitters,
        "node_setup_s": setup,
        "register_s": registered,
        "placements_per_s": placed / elapsed if elapsed else 0.0,
        "placements_per_cpu_s": placed / cpu if cpu else 0.0,
        "register_p50_ms": 1000 * percentile(register_latencies, 0.5),
        "register_p99_ms": 1000 * percentile(register_latencies, 0.99),
        "eval_p50_ms": 1000 * percentile(eval_times, 0.5),
        "eval_p99_ms": 1000 * percentile(eval_times, 0.99),
        "consensus": "stand-in" if args.stand_in else "raft",
        "fsm_s": fsm.seconds,
        "fsm_share": fsm.seconds / elapsed if elapsed else 0.0,
        "raft_wait_s": consensus.wait_seconds,
        "plan_refusals": refusals,
        "nodes_used": used_nodes,
        "nodes_lower_bound": lower,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if args.profile:
        result["profile"] = _profile_text(loop_profile, scheduler_profiles, args.profile)
    return result


def _profile_text(loop: cProfile.Profile, sched: list[cProfile.Profile], top: int) -> str:
    out = io.StringIO()
    out.write("== event loop (endpoints, broker, plan applier, FSM) ==\n")
    pstats.Stats(loop, stream=out).sort_stats("tottime").print_stats(top)
    if sched:
        out.write("== scheduler threads ==\n")
        stats = pstats.Stats(sched[0], stream=out)
        for prof in sched[1:]:
            stats.add(prof)
        stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="scheduler workers")
    parser.add_argument(
        "--submitters", type=int, default=1, help="node and job registrations in flight"
    )
    parser.add_argument(
        "--constrain-every", type=int, default=10, help="every Nth job avoids rack r0 (0: none)"
    )
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument(
        "--snapshot-threshold",
        type=int,
        default=None,
        metavar="N",
        help="Raft entries applied before an FSM snapshot (default: the group's own)",
    )
    parser.add_argument(
        "--stand-in", action="store_true", help="apply commands directly, without Raft"
    )
    parser.add_argument(
        "--default-gc", action="store_true", help="keep CPython's garbage collector settings"
    )
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print top N")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    profile = result.pop("profile", "")
    width = max(len(k) for k in result)
    for key, value in result.items():
        if isinstance(value, str):
            shown = value
        else:
            shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
        print(f"{key:<{width}}  {shown:>14}")
    if profile:
        print(profile)
    sys.stdout.flush()
    # Tearing down a heap of millions of objects takes minutes and measures nothing.
    os._exit(0)


if __name__ == "__main__":
    main()
