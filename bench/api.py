"""HTTP API benchmark: read latency at scale, blocking-query memory, event stream throughput.

Fills a state store with ``--jobs`` jobs and ``--allocs`` allocations (written through the
store's write transactions, as the FSM does, without msgpack), serves it with the real API on
127.0.0.1 and measures, with one aiohttp client on the same loop:

- p50/p99 latency of the job list, a job read, the allocation list and the node list;
- memory per held-open blocking query (``--blocking`` of them, RSS delta);
- event stream throughput: allocation updates applied vs. events received on one stream.

    .venv/bin/python bench/api.py [--jobs 10000] [--allocs 50000] [--nodes 100]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time

import aiohttp
from aiohttp import web

from caravan.api import AgentInfo, create_app
from caravan.api.metrics import rss_bytes
from caravan.server.config import ServerConfig
from caravan.server.server import Server
from caravan.state import FSM, StateStore
from caravan.state.allocs import client_update, upsert_allocs
from caravan.state.jobs import upsert_job
from caravan.state.nodes import upsert_node
from caravan.structs import Allocation, Job, Node, canonicalize, new_id


class _Leader:
    """A consensus stand-in: this process always leads (reads only; nothing is proposed)."""

    is_leader = True
    known_leader = True
    leader_address = "127.0.0.1:4647"

    def last_contact_ms(self) -> int:
        return 0


def _template() -> Job:
    return canonicalize(
        Job.from_api(
            {
                "ID": "template",
                "Namespace": "default",
                "Datacenters": ["dc1"],
                "TaskGroups": [
                    {
                        "Name": "web",
                        "Count": 5,
                        "Tasks": [{"Name": "srv", "Driver": "mock", "Config": {}}],
                    }
                ],
            }
        )
    )


def fill(store: StateStore, jobs: int, allocs: int, nodes: int) -> None:
    """Write ``nodes`` nodes, ``jobs`` jobs and ``allocs`` allocations spread over them."""
    index = 1
    node_ids = []
    txn = store.begin(index)
    for i in range(nodes):
        node = Node(id=new_id(), name=f"node-{i}", datacenter="dc1", status="ready")
        node_ids.append(node.id)
        upsert_node(txn, node)
    store.commit(txn)
    template = _template()
    per_job = max(allocs // jobs, 1)
    for j in range(jobs):
        index += 1
        txn = store.begin(index)
        job = upsert_job(
            txn, template.model_copy(update={"id": f"job-{j:05d}", "name": f"job-{j}"})
        )
        batch = [
            Allocation(
                id=new_id(),
                namespace="default",
                name=f"{job.id}.web[{k}]",
                node_id=node_ids[(j * per_job + k) % nodes],
                job_id=job.id,
                task_group="web",
                desired_status="run",
                client_status="running",
            )
            for k in range(per_job)
        ]
        upsert_allocs(txn, batch, job)
        store.commit(txn)
    gc.freeze()


async def _latency(http: aiohttp.ClientSession, url: str, n: int) -> tuple[float, float, int]:
    times = []
    size = 0
    for _ in range(n):
        started = time.perf_counter()
        async with http.get(url) as resp:
            body = await resp.read()
        times.append((time.perf_counter() - started) * 1000)
        size = len(body)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.median(times), p99, size


async def _blocking_memory(http: aiohttp.ClientSession, base: str, count: int) -> float:
    async with http.get(f"{base}/v1/job/job-00000") as resp:
        index = resp.headers["X-Nomad-Index"]
    gc.collect()
    before = rss_bytes()
    url = f"{base}/v1/job/job-00000?index={index}&wait=60s"
    tasks = [asyncio.create_task(http.get(url)) for _ in range(count)]
    await asyncio.sleep(2.0)
    gc.collect()
    per_query = (rss_bytes() - before) / count
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return per_query


async def _event_throughput(
    http: aiohttp.ClientSession, base: str, store: StateStore, updates: int, batch: int
) -> tuple[float, int]:
    alloc_ids = [a.id for a in store.allocs()[:updates]]
    received = 0
    async with http.get(f"{base}/v1/event/stream?topic=Allocation") as resp:
        await resp.content.readline()
        started = time.perf_counter()
        index = store.latest_index
        for start in range(0, len(alloc_ids), batch):
            index += 1
            txn = store.begin(index)
            for alloc_id in alloc_ids[start : start + batch]:
                client_update(txn, {"ID": alloc_id, "ClientStatus": "complete"})
            store.commit(txn)
            await asyncio.sleep(0)
        while received < len(alloc_ids):
            line = await resp.content.readline()
            data = json.loads(line)
            received += len(data.get("Events") or ())
        elapsed = time.perf_counter() - started
    return received / elapsed, received


async def run(args: argparse.Namespace) -> list[tuple[str, str]]:
    fsm = FSM(StateStore())
    started = time.perf_counter()
    fill(fsm.store, args.jobs, args.allocs, args.nodes)
    fill_s = time.perf_counter() - started
    server = Server(ServerConfig(num_schedulers=0), _Leader(), fsm)  # type: ignore[arg-type]
    runner = web.AppRunner(create_app(server, agent_info=AgentInfo(node_name="bench")))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    rows = [
        ("state", f"{args.jobs} jobs, {len(fsm.store.allocs())} allocs, filled in {fill_s:.1f}s")
    ]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        for name, path, n in (
            ("GET /v1/jobs", "/v1/jobs", args.list_requests),
            ("GET /v1/job/:id", "/v1/job/job-00042", args.read_requests),
            ("GET /v1/allocations", "/v1/allocations", args.list_requests),
            ("GET /v1/nodes", "/v1/nodes", args.read_requests),
        ):
            p50, p99, size = await _latency(http, base + path, n)
            rows.append((name, f"p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  ({size / 1e6:.2f} MB)"))
        per_query = await _blocking_memory(http, base, args.blocking)
        rows.append((f"{args.blocking} blocking queries", f"{per_query / 1024:.1f} KiB each (RSS)"))
        rate, count = await _event_throughput(http, base, fsm.store, args.events, args.batch)
        rows.append(("event stream", f"{rate:,.0f} events/s ({count} events)"))
    await runner.cleanup()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--allocs", type=int, default=50_000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--list-requests", type=int, default=20)
    parser.add_argument("--read-requests", type=int, default=200)
    parser.add_argument("--blocking", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=100)
    rows = asyncio.run(run(parser.parse_args()))
    width = max(len(name) for name, _ in rows)
    print(f"{'measurement':<{width}}  result")
    for name, result in rows:
        print(f"{name:<{width}}  {result}")


if __name__ == "__main__":
    main()
