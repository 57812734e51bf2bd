"""State store benchmark: allocation upserts per second and snapshot cost as the store grows.

Applies plans of ``--plan-size`` allocations (one job, spread over 1,000 nodes) until the
store holds ``--allocs`` allocations, timing the write path (a write transaction per plan, as
the FSM does, without msgpack decoding) and ``store.snapshot()`` at each size. Prints a table.

    .venv/bin/python bench/state.py --allocs 1000000 --plan-size 1000 [--freeze-gc]

With ``--freeze-gc`` the stored objects are moved out of the cyclic collector's reach after
each plan (``gc.freeze()``): at scale, full collections over millions of long-lived objects,
not the store's data structures, dominate the write path.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import uuid

from caravan.state import ModelSet, StateStore
from caravan.state.allocs import upsert_allocs
from caravan.state.jobs import upsert_job


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
        allocs = [_alloc(models, "bench", (placed + i) % 1000) for i in range(plan_size)]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allocs", type=int, default=1_000_000)
    parser.add_argument("--plan-size", type=int, default=1000)
    parser.add_argument("--freeze-gc", action="store_true")
    args = parser.parse_args()
    rows = run(args.allocs, args.plan_size, ModelSet.default(), args.freeze_gc)
    print(f"{'allocs in store':>16} | {'alloc upserts/s':>16} | {'snapshot() µs':>14}")
    print(f"{'-' * 16}-+-{'-' * 16}-+-{'-' * 14}")
    for placed, rate, snap_us in rows:
        print(f"{placed:>16,} | {rate:>16,.0f} | {snap_us:>14.2f}")


if __name__ == "__main__":
    main()
