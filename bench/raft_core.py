"""Throughput of caravan's Raft core in one process: 3 nodes, messages passed in memory.

Each loop turn the client proposes ``batch`` 1 KiB commands to the leader, then every node
runs one ready/advance cycle (persist, send, apply), as an asyncio server loop would. A
command's latency runs from ``propose`` to the leader handing it out as committed.
With ``FileStorage`` every node fsyncs once per turn (group commit).

    .venv/bin/python bench/raft_core.py [--commands 20000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable

from caravan.raft import FileStorage, MemoryStorage, Message, MessageType, RaftNode, Role, Storage

IDS = ("n1", "n2", "n3")


def run(make_storage: Callable[[str], Storage], commands: int, batch: int) -> tuple[float, ...]:
    storages = {i: make_storage(i) for i in IDS}
    nodes = {
        i: RaftNode(i, IDS, storages[i], rand=random.Random(k), max_batch=1024, max_inflight=8)
        for k, i in enumerate(IDS)
    }
    inbox: list[Message] = []
    proposed_at: dict[bytes, float] = {}
    latencies: list[float] = []

    def turn() -> None:
        for id, node in nodes.items():
            rd = node.ready()
            if rd is None:
                continue
            storages[id].save(rd.hard_state, rd.entries, rd.snapshot)
            inbox.extend(rd.messages)
            if node.role is Role.LEADER:
                now = time.perf_counter()
                for e in rd.committed_entries:
                    t0 = proposed_at.pop(e.data[:16], None)
                    if t0 is not None:
                        latencies.append(now - t0)
            node.advance(rd)
        msgs = inbox[:]
        inbox.clear()
        for m in msgs:
            nodes[m.to].step(m)

    nodes["n1"].step(Message(MessageType.HUP))
    while nodes["n1"].role is not Role.LEADER or nodes["n1"].commit_index < len(IDS) + 1:
        turn()
    leader = nodes["n1"]
    pad = b"x" * (1024 - 16)
    sent = 0
    start = time.perf_counter()
    while len(latencies) < commands:
        if sent < commands and len(proposed_at) < 4 * batch:
            now = time.perf_counter()
            for _ in range(min(batch, commands - sent)):
                key = f"{sent:016d}".encode()
                proposed_at[key] = now
                leader.propose(key + pad)
                sent += 1
        turn()
    elapsed = time.perf_counter() - start
    lat = sorted(latencies)
    p50 = statistics.median(lat)
    p99 = lat[int(len(lat) * 0.99) - 1]
    for s in storages.values():
        if isinstance(s, FileStorage):
            s.close()
    return commands / elapsed, p50 * 1000, p99 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20000)
    args = parser.parse_args()
    rows = []
    for batch in (1, 64, 512):
        n = args.commands if batch > 1 else min(args.commands, 2000)
        rows.append(("memory", batch, *run(lambda _: MemoryStorage(), n, batch)))
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(
                ("file+fsync", batch, *run(lambda i, tmp=tmp: FileStorage(f"{tmp}/{i}"), n, batch))
            )
    print(f"{'storage':<12} {'batch':>6} {'commits/s':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for storage, batch, rate, p50, p99 in rows:
        print(f"{storage:<12} {batch:>6} {rate:>11,.0f} {p50:>8.2f} {p99:>8.2f}")


if __name__ == "__main__":
    main()
