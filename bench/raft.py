"""Committed writes per second and commit latency of a real 3-server caravan cluster.

Three ``caravan.rpc.testserver`` processes on 127.0.0.1, each with its own data directory
(every ``Ready`` is fsynced), form a group. A client process sends 1 KiB writes (an
``EvalUpsert`` whose evaluation carries 1 KiB of text) to the leader over the RPC port, with
1 and then 100 writes in flight. A write's latency runs from sending the RPC to its answer,
which comes once the leader has committed it on a majority and applied it to its state
store. The same runs against servers with ``--null-fsm`` (1 KiB of opaque bytes, applied to
nothing) separate the cost of Raft and the transport from that of the state store. The
target for the batched case is at least 10,000 commits/s (hashicorp/raft's neighbourhood).

    .venv/bin/python bench/raft.py [--writes 10000] [--single-writes 1000]
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

from caravan.rpc import RPCConnection

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


def start_cluster(root: str, null_fsm: bool) -> list[subprocess.Popen[str]]:
    addresses = free_addresses(3)
    procs = []
    for address in addresses:
        args = [sys.executable, "-m", "caravan.rpc.testserver", "--rpc", address]
        args += [a for other in addresses if other != address for a in ("--join", other)]
        args += ["--bootstrap-expect", "3", "--data-dir", f"{root}/{address.split(':')[1]}"]
        args += ["--null-fsm"] if null_fsm else []
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, text=True))
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().startswith("ready")
    return procs


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
    leader: str, writes: int, width: int, null_fsm: bool
) -> tuple[float, float, float]:
    """``(commits/s, p50 ms, p99 ms)`` of ``writes`` writes with ``width`` in flight."""
    conns = [await RPCConnection.open(leader) for _ in range(min(width, 8))]
    latencies: list[float] = []
    remaining = writes

    async def writer(k: int) -> None:
        nonlocal remaining
        conn = conns[k % len(conns)]
        while remaining > 0:
            remaining -= 1
            eval_id = str(uuid.uuid4())
            t0 = time.perf_counter()
            if null_fsm:
                await conn.call("test_write_raw", {"Data": eval_id.encode() + PAD}, 30)
            else:
                await conn.call("test_write", {"ID": eval_id, "Note": NOTE}, 30)
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(writer(k) for k in range(width)))
    elapsed = time.perf_counter() - start
    for conn in conns:
        conn.close()
    lat = sorted(latencies)
    return writes / elapsed, statistics.median(lat) * 1000, lat[int(len(lat) * 0.99) - 1] * 1000


async def run_one(args: argparse.Namespace, null_fsm: bool) -> list[tuple[float, ...]]:
    with tempfile.TemporaryDirectory() as root:
        procs = start_cluster(root, null_fsm)
        try:
            leader = await find_leader([p.args[4] for p in procs])
            await measure(leader, 200, 10, null_fsm)  # warm up connections and caches
            return [
                (1, *(await measure(leader, args.single_writes, 1, null_fsm))),
                (100, *(await measure(leader, args.writes, 100, null_fsm))),
            ]
        finally:
            for proc in procs:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


async def run(args: argparse.Namespace) -> None:
    rows = [("state store", *r) for r in await run_one(args, null_fsm=False)]
    rows += [("null FSM", *r) for r in await run_one(args, null_fsm=True)]
    print("3 servers on 127.0.0.1, FileStorage with fsync, 1 KiB writes (target >= 10,000/s)")
    print(f"{'FSM':<12} {'in flight':>9} {'commits/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for fsm, width, rate, p50, p99 in rows:
        print(f"{fsm:<12} {width:>9} {rate:>11,.0f} {p50:>8.2f} {p99:>8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=10000, help="writes with 100 in flight")
    parser.add_argument("--single-writes", type=int, default=1000, help="writes one at a time")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
