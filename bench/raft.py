"""Committed writes per second and commit latency of a real 3-server caravan cluster.

Three ``caravan.rpc.testserver`` processes on 127.0.0.1, each with its own data directory
(every ``Ready`` is fsynced), form a group. A client process sends 1 KiB writes (an
``EvalUpsert`` whose evaluation carries 1 KiB of text) to the leader over the RPC port, with
1 and then 100 writes in flight. A write's latency runs from sending the RPC to its answer,
which comes once the leader has committed it on a majority and applied it to its state
store. The same runs against servers with ``--null-fsm`` (1 KiB of opaque bytes, applied to
nothing) separate the cost of Raft and the transport from that of the state store. The
target for the batched case is at least 10,000 commits/s (hashicorp/raft's neighbourhood).

The client is one process (on uvloop when installed, like the servers) spreading its writers
over ``--connections`` pipelined connections; as with any caravan RPC client, the calls made
on a connection in one turn of the event loop travel as one batch frame
(:mod:`caravan.rpc.batching`), which the leader proposes with one ``propose_many``. The CPU
columns are CPU time (user + system) per committed write of the leader, of a follower (their
mean) and of the client process, read from ``/proc``: they show where the machine's time goes
(blank where ``/proc`` is missing).

    .venv/bin/python bench/raft.py [--writes 10000] [--single-writes 1000] [--connections 8]
        [--snapshot-interval 120]

With ``--in-process`` it measures instead the write path around Raft alone, with no other
process to wait for: one client and one server (a single-server group, log in memory, null
FSM) in this process, 100 writes in flight; it prints the CPU µs per write of the RPC client,
the RPC server and the group's proposal path together (median of five rounds), which is far
steadier on a shared machine than the cluster's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from caravan.rpc import RPCConnection, eventloop

NOTE = "x" * 1024
PAD = b"x" * (1024 - 36)


def free_addresses(n: int) -> list[str]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    addresses = [f"127.0.0.1:{s.getsockname()[1]}" for s in socks]
    for s in socks:
        s.close()
    return addresses


def start_cluster(
    root: str, null_fsm: bool, snapshot_interval: float
) -> list[subprocess.Popen[str]]:
    addresses = free_addresses(3)
    procs = []
    for address in addresses:
        args = [sys.executable, "-m", "caravan.rpc.testserver", "--rpc", address]
        args += [a for other in addresses if other != address for a in ("--join", other)]
        args += ["--bootstrap-expect", "3", "--data-dir", f"{root}/{address.split(':')[1]}"]
        args += ["--null-fsm"] if null_fsm else []
        args += ["--snapshot-interval", str(snapshot_interval)]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, text=True))
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().startswith("ready")
    return procs


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU seconds used so far by process ``pid`` (this one if None); NaN
    where ``/proc`` is not available."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def address_of(proc: subprocess.Popen[str]) -> str:
    return str(proc.args[proc.args.index("--rpc") + 1])  # type: ignore[union-attr]


async def find_leader(addresses: list[str]) -> str:
    conn = await RPCConnection.open(addresses[0])
    try:
        for _ in range(200):
            status = await conn.call("test_status", {}, 5)
            if status["Leader"]:
                return status["Leader"]
            await asyncio.sleep(0.05)
    finally:
        conn.close()
    raise SystemExit("no leader elected")


async def measure(
    procs: list[subprocess.Popen[str]],
    leader: str,
    writes: int,
    width: int,
    null_fsm: bool,
    connections: int,
) -> tuple[float, ...]:
    """``(commits/s, p50 ms, p99 ms, leader, follower, client CPU µs per write)`` of
    ``writes`` writes with ``width`` in flight."""
    conns = [await RPCConnection.open(leader) for _ in range(min(width, connections))]
    latencies: list[float] = []
    # Evaluation IDs are made up front so that the client's clock measures only the writes.
    ids = [str(uuid.uuid4()) for _ in range(writes)]
    if null_fsm:
        calls = [("test_write_raw", {"Data": i.encode() + PAD}) for i in ids]
    else:
        calls = [("test_write", {"ID": i, "Note": NOTE}) for i in ids]
    calls.reverse()

    async def writer(k: int) -> None:
        conn = conns[k % len(conns)]
        while calls:
            method, args = calls.pop()
            t0 = time.perf_counter()
            await conn.call(method, args, 30)
            latencies.append(time.perf_counter() - t0)

    servers = {address_of(p): p.pid for p in procs}
    cpu0 = {a: cpu_seconds(pid) for a, pid in servers.items()}
    client0 = cpu_seconds()
    start = time.perf_counter()
    await asyncio.gather(*(writer(k) for k in range(width)))
    elapsed = time.perf_counter() - start
    client = cpu_seconds() - client0
    cpu = {a: cpu_seconds(pid) - cpu0[a] for a, pid in servers.items()}
    for conn in conns:
        conn.close()
    lat = sorted(latencies)
    follower = statistics.mean(v for a, v in cpu.items() if a != leader)
    return (
        writes / elapsed,
        statistics.median(lat) * 1000,
        lat[int(len(lat) * 0.99) - 1] * 1000,
        *(seconds / writes * 1e6 for seconds in (cpu[leader], follower, client)),
    )


async def run_one(args: argparse.Namespace, null_fsm: bool) -> list[tuple[float, ...]]:
    with tempfile.TemporaryDirectory() as root:
        procs = start_cluster(root, null_fsm, args.snapshot_interval)
        try:
            leader = await find_leader([address_of(p) for p in procs])
            await measure(procs, leader, 500, 10, null_fsm, 1)  # warm up caches
            return [
                (width, *(await measure(procs, leader, n, width, null_fsm, args.connections)))
                for width, n in ((1, args.single_writes), (100, args.writes))
            ]
        finally:
            for proc in procs:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


async def run(args: argparse.Namespace) -> None:
    rows = [("state store", *r) for r in await run_one(args, null_fsm=False)]
    rows += [("null FSM", *r) for r in await run_one(args, null_fsm=True)]
    print("3 servers on 127.0.0.1, FileStorage with fsync, 1 KiB writes (target >= 10,000/s)")
    print(f"raft_snapshot_threshold 8192, raft_snapshot_interval {args.snapshot_interval:g}s")
    print(f"one client process, {args.connections} connections; CPU in µs per write")
    print(
        f"{'FSM':<12} {'in flight':>9} {'commits/s':>11} {'p50 ms':>8} {'p99 ms':>8}"
        f" {'leader CPU':>10} {'follower CPU':>12} {'client CPU':>10}"
    )
    for fsm, width, rate, p50, p99, lead, follow, client in rows:
        print(
            f"{fsm:<12} {width:>9} {rate:>11,.0f} {p50:>8.2f} {p99:>8.2f}"
            f" {lead:>10.0f} {follow:>12.0f} {client:>10.0f}"
        )


async def in_process(args: argparse.Namespace) -> None:
    from caravan.rpc import RPCServer
    from caravan.rpc.testserver import NullFSM, TestServer
    from caravan.server.consensus import RaftGroup
    from caravan.state import StateStore

    rpc = RPCServer("127.0.0.1:0")
    await rpc.start()
    group = RaftGroup(NullFSM(), rpc, bootstrap_expect=1)
    test_server = TestServer(group, StateStore())
    test_server.register(rpc)
    test_server.register_raw(rpc)
    await group.start()
    await group.wait_for_leader(5)
    conns = [await RPCConnection.open(rpc.address) for _ in range(args.connections)]
    data = b"x" * 1024

    async def writes(n: int) -> None:
        left = [n]

        async def writer(k: int) -> None:
            conn = conns[k % len(conns)]
            while left[0] > 0:
                left[0] -= 1
                await conn.call("test_write_raw", {"Data": data}, 30)

        await asyncio.gather(*(writer(k) for k in range(100)))

    await writes(2000)  # warm up
    rounds = []
    for _ in range(5):
        cpu0, start = cpu_seconds(), time.perf_counter()
        await writes(args.writes)
        rounds.append((cpu_seconds() - cpu0, time.perf_counter() - start))
    cpu, elapsed = sorted(rounds)[2]
    print("1 server and its client in one process, memory log, null FSM, 100 in flight")
    print(f"CPU per write {cpu / args.writes * 1e6:.1f} µs, {args.writes / elapsed:,.0f} writes/s")
    for conn in conns:
        conn.close()
    await group.stop()
    await rpc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=10000, help="writes with 100 in flight")
    parser.add_argument("--single-writes", type=int, default=1000, help="writes one at a time")
    parser.add_argument("--connections", type=int, default=8, help="client connections")
    parser.add_argument(
        "--snapshot-interval",
        type=float,
        default=120.0,
        help="the servers' raft_snapshot_interval in seconds (0: snapshot every 8,192 entries)",
    )
    parser.add_argument(
        "--in-process", action="store_true", help="the write path around Raft, in one process"
    )
    args = parser.parse_args()
    eventloop.run(in_process(args) if args.in_process else run(args))


if __name__ == "__main__":
    main()
