"""State store benchmark: the write path below the scheduler, as the store grows.

Two tables, each over plans of ``--plan-size`` allocations (one job, spread over 1,000 nodes)
until the store holds ``--allocs`` allocations:

* ``store``: the store alone — a write transaction per plan, as the FSM runs it, with
  allocation objects built beforehand — and ``store.snapshot()`` at each size;
* ``fsm``: the whole committed-command path of the leader — encoding the plan as a
  ``PlanApply`` command (what the plan applier does), then ``FSM.apply`` decoding it and
  writing it — with allocations shaped like the scheduler's (allocated resources, placement
  metrics with five node scores). Its figures are CPU microseconds per allocation and the
  process's resident memory per stored allocation.

    .venv/bin/python bench/state.py --allocs 1000000 --plan-size 1000 [--freeze-gc]
    .venv/bin/python bench/state.py --table fsm --allocs 200000 --freeze-gc

With ``--freeze-gc`` the stored objects are moved out of the cyclic collector's reach after
each plan (``gc.freeze()``): at scale, full collections over millions of long-lived objects,
not the store's data structures, dominate the write path.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import time
import uuid
from typing import Any

from caravan.state import FSM, ModelSet, StateStore
from caravan.state import commands as c
from caravan.state.allocs import upsert_allocs
from caravan.state.jobs import upsert_job

NODES = 1000


def _alloc(models: ModelSet, job_id: str, node: int) -> object:
    return models.allocation.from_api(
        {
            "ID": str(uuid.uuid4()),
            "Namespace": "default",
            "EvalID": "",
            "JobID": job_id,
            "NodeID": f"node-{node:04d}",
            "TaskGroup": "web",
            "DesiredStatus": "run",
            "ClientStatus": "pending",
        }
    )


def run(
    total: int, plan_size: int, models: ModelSet, freeze_gc: bool = False
) -> list[tuple[int, float, float]]:
    """Rows of (allocations in store, upserts/s over the last step, snapshot µs)."""
    store = StateStore(models)
    index = 1
    txn = store.begin(index)
    job = upsert_job(
        txn,
        models.job.from_api(
            {"ID": "bench", "Name": "bench", "Type": "service", "TaskGroups": [{"Name": "web"}]}
        ),
    )
    store.commit(txn)
    rows = []
    checkpoints = {total // 1000, total // 100, total // 10, total}
    placed, step_time, step_count = 0, 0.0, 0
    while placed < total:
        allocs = [_alloc(models, "bench", (placed + i) % NODES) for i in range(plan_size)]
        index += 1
        start = time.perf_counter()
        txn = store.begin(index)
        upsert_allocs(txn, allocs, job)
        store.commit(txn)
        step_time += time.perf_counter() - start
        if freeze_gc:
            gc.freeze()
        step_count += plan_size
        placed += plan_size
        if placed in checkpoints or placed >= total:
            samples = []
            for _ in range(100):
                t0 = time.perf_counter()
                store.snapshot()
                samples.append((time.perf_counter() - t0) * 1e6)
            rows.append((placed, step_count / step_time, statistics.median(samples)))
            step_time, step_count = 0.0, 0
    return rows


# ---------------------------------------------------------------------- the FSM path


def _scheduled_alloc(models: ModelSet, job: Any, n: int, rng: random.Random) -> Any:
    """An allocation as the scheduler builds one: resources, metrics and five node scores."""
    node = rng.randrange(NODES)
    scores = sorted((rng.random() for _ in range(5)), reverse=True)
    return models.allocation.from_api(
        {
            "ID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "Namespace": job.namespace,
            "EvalID": "6f1f4c86-0000-4000-8000-000000000000",
            "Name": f"{job.id}.web[{n}]",
            "NodeID": f"node-{node:04d}",
            "NodeName": f"node-{node:04d}",
            "JobID": job.id,
            "Job": None,
            "TaskGroup": "web",
            "AllocatedResources": {
                "Tasks": {"web": {"Cpu": {"CpuShares": 20}, "Memory": {"MemoryMB": 32}}},
                "Shared": {"DiskMB": 300, "Networks": [], "Ports": []},
            },
            "Metrics": {
                "NodesEvaluated": 8,
                "NodesInPool": NODES,
                "NodesAvailable": {"dc1": NODES},
                "ScoreMetaData": [
                    {
                        "NodeID": f"node-{rng.randrange(NODES):04d}",
                        "Scores": {"binpack": s},
                        "NormScore": s,
                    }
                    for s in scores
                ],
            },
            "DesiredStatus": "run",
            "ClientStatus": "pending",
            "CreateTime": 1_700_000_000_000_000_000 + n,
            "ModifyTime": 1_700_000_000_000_000_000 + n,
        }
    )


def run_fsm(
    total: int, plan_size: int, models: ModelSet, freeze_gc: bool = False
) -> list[tuple[int, float, float, float]]:
    """Rows of (allocations in store, encode µs/alloc, apply µs/alloc, RSS KiB per alloc),
    the times in CPU time over the last step."""
    store = StateStore(models)
    fsm = FSM(store)
    rng = random.Random(7)
    job = models.job.from_api(
        {
            "ID": "bench",
            "Namespace": "default",
            "Name": "bench",
            "Type": "service",
            "TaskGroups": [{"Name": "web", "Count": total}],
        }
    )
    index = 1
    fsm.apply(index, c.job_register(job))
    job = store.job_by_id("default", "bench")
    rss_start = _rss_kib()
    rows = []
    checkpoints = {total // 100, total // 10, total}
    placed, encode_s, apply_s, step_count = 0, 0.0, 0.0, 0
    while placed < total:
        allocs = [_scheduled_alloc(models, job, placed + i, rng) for i in range(plan_size)]
        index += 1
        t0 = time.process_time()
        command = c.plan_apply(job, allocs, eval_id="6f1f4c86-0000-4000-8000-000000000000")
        t1 = time.process_time()
        fsm.apply(index, command)
        t2 = time.process_time()
        del allocs, command
        encode_s += t1 - t0
        apply_s += t2 - t1
        if freeze_gc:
            gc.freeze()
        step_count += plan_size
        placed += plan_size
        if placed in checkpoints or placed >= total:
            rss = (_rss_kib() - rss_start) / placed
            rows.append((placed, 1e6 * encode_s / step_count, 1e6 * apply_s / step_count, rss))
            encode_s, apply_s, step_count = 0.0, 0.0, 0
    return rows


def _rss_kib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", choices=("store", "fsm"), default="store")
    parser.add_argument("--allocs", type=int, default=1_000_000)
    parser.add_argument("--plan-size", type=int, default=1000)
    parser.add_argument("--freeze-gc", action="store_true")
    args = parser.parse_args()
    models = ModelSet.default()
    if args.table == "fsm":
        fsm_rows = run_fsm(args.allocs, args.plan_size, models, args.freeze_gc)
        print(
            f"{'allocs in store':>16} | {'encode µs/alloc':>16} | {'apply µs/alloc':>15} | "
            f"{'RSS KiB/alloc':>14}"
        )
        print(f"{'-' * 16}-+-{'-' * 16}-+-{'-' * 15}-+-{'-' * 14}")
        for placed, enc, app, rss in fsm_rows:
            print(f"{placed:>16,} | {enc:>16.1f} | {app:>15.1f} | {rss:>14.2f}")
        return
    rows = run(args.allocs, args.plan_size, models, args.freeze_gc)
    print(f"{'allocs in store':>16} | {'alloc upserts/s':>16} | {'snapshot() µs':>14}")
    print(f"{'-' * 16}-+-{'-' * 16}-+-{'-' * 14}")
    for placed, rate, snap_us in rows:
        print(f"{placed:>16,} | {rate:>16,.0f} | {snap_us:>14.2f}")


if __name__ == "__main__":
    main()
