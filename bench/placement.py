"""Cost per placement below the server: scheduler, plan encoding and FSM, as the store grows.

One thread does what a leader does for each evaluation, without the event loop, Raft or the
deployment watcher around it: register a service job and its evaluation through the FSM, run
the service scheduler on a fresh snapshot of the store, encode each plan as the plan applier
does (``PlanApply``: placed allocations, the new deployment) and apply it to the FSM. Jobs are
shaped as in ``bench/scheduler.py`` (cpu 20, memory 32; every tenth avoids a rack).

Per step of ``--step`` jobs it prints CPU microseconds per placement spent in the scheduler
proper, encoding plans and applying them (decode, indexes, usage, summaries, change feed),
evaluation time, and resident memory per stored allocation: whether the cost stays flat as
the store grows is the point.

    .venv/bin/python bench/placement.py                                  # 5,000 nodes, 100 x 1,000
    .venv/bin/python bench/placement.py --jobs 1000 --step 100           # to 1,000,000 allocations
    .venv/bin/python bench/placement.py --jobs 20 --profile 30           # top 30 by own time
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from caravan.scheduler import Plan, PlanResult, new_scheduler
from caravan.state import FSM, StateStore
from caravan.state import commands as c
from caravan.state.gc_policy import tune_gc
from caravan.structs import Evaluation

sys.path.insert(0, str(Path(__file__).parent))
from scheduler import make_job, make_node  # the sibling bench's node and job shapes


class Leader:
    """The scheduler's planner and the FSM's only writer, timing each part in CPU seconds."""

    def __init__(self, fsm: FSM) -> None:
        self.fsm = fsm
        self.index = fsm.store.latest_index
        self.encode_s = 0.0
        self.apply_s = 0.0

    def commit(self, data: bytes) -> Any:
        self.index += 1
        started = time.process_time()
        out = self.fsm.apply(self.index, data)
        self.apply_s += time.process_time() - started
        return out

    def submit_plan(self, plan: Plan) -> PlanResult:
        started = time.process_time()
        placed = [a for allocs in plan.node_allocation.values() for a in allocs]
        command = c.plan_apply(
            plan.job, allocs=placed, deployment=plan.deployment, eval_id=plan.eval_id
        )
        self.encode_s += time.process_time() - started
        out = self.commit(command)
        return PlanResult(
            node_allocation=dict(plan.node_allocation),
            deployment=plan.deployment,
            alloc_index=out["AllocIndex"],
        )

    def refresh_state(self, index: int) -> Any:
        return self.fsm.store.snapshot()

    def update_eval(self, evaluation: Any) -> None:
        self.commit(c.eval_upsert([evaluation]))

    def create_eval(self, evaluation: Any) -> None:
        self.commit(c.eval_upsert([evaluation]))


def _rss_kib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1024


def _evaluation(job: Any) -> Any:
    return Evaluation.from_api(
        {
            "ID": f"00000000-0000-4000-8000-{int(job.id.split('-')[1]):012d}",
            "Namespace": job.namespace,
            "Priority": 50,
            "Type": job.type,
            "TriggeredBy": "job-register",
            "JobID": job.id,
            "Status": "pending",
        }
    )


def run(args: argparse.Namespace) -> list[dict[str, float]]:
    """One row per step: store size and the costs of the step's placements."""
    fsm = FSM(StateStore())
    leader = Leader(fsm)
    for i in range(args.nodes):
        node = make_node(i)
        # As Server.node_register stores them: with their computed class.
        leader.commit(
            c.node_register(node.model_copy(update={"computed_class": node.compute_class()}))
        )
    tune_gc()
    scheduler = new_scheduler("service", clock=time.time_ns, seed=1)
    profile = cProfile.Profile() if args.profile else None
    rss_start = _rss_kib()
    rows: list[dict[str, float]] = []
    eval_ms: list[float] = []
    step_cpu = 0.0
    leader.encode_s = leader.apply_s = 0.0
    placed_before = 0
    for i in range(args.jobs):
        job = make_job(i, args.count, args.constrain_every and i % args.constrain_every == 0)
        evaluation = _evaluation(job)
        leader.commit(c.job_register(job, [evaluation]))
        started = time.process_time()
        if profile is not None:
            profile.enable()
        scheduler.process(evaluation, fsm.store.snapshot(), leader)
        if profile is not None:
            profile.disable()
        spent = time.process_time() - started
        step_cpu += spent
        eval_ms.append(1000 * spent)
        if (i + 1) % args.step == 0 or i + 1 == args.jobs:
            stored = fsm.store.snapshot().alloc_count()
            placed = stored - placed_before
            eval_ms.sort()
            # The scheduler's own time: the evaluation minus the leader's encode and apply.
            sched_s = step_cpu - leader.encode_s - leader.apply_s
            rows.append(
                {
                    "allocs": stored,
                    "sched_us": 1e6 * sched_s / placed,
                    "encode_us": 1e6 * leader.encode_s / placed,
                    "apply_us": 1e6 * leader.apply_s / placed,
                    "per_cpu_s": placed / step_cpu,
                    "eval_p50_ms": statistics.median(eval_ms),
                    "eval_p99_ms": eval_ms[min(len(eval_ms), math.ceil(0.99 * len(eval_ms))) - 1],
                    "rss_kib": (_rss_kib() - rss_start) / stored,
                }
            )
            placed_before = stored
            step_cpu = leader.encode_s = leader.apply_s = 0.0
            eval_ms = []
    if profile is not None:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.profile)
        print(out.getvalue())
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--step", type=int, default=20, help="jobs per printed row")
    parser.add_argument(
        "--constrain-every", type=int, default=10, help="every Nth job avoids rack r0 (0: none)"
    )
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print top N")
    args = parser.parse_args()
    rows = run(args)
    header = (
        f"{'allocs in store':>15} | {'sched µs':>8} | {'encode µs':>9} | {'apply µs':>8} | "
        f"{'placed/CPU s':>12} | {'eval p50/p99 ms':>15} | {'RSS KiB/alloc':>13}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['allocs']:>15,} | {r['sched_us']:>8.1f} | {r['encode_us']:>9.1f} | "
            f"{r['apply_us']:>8.1f} | {r['per_cpu_s']:>12,.0f} | "
            f"{r['eval_p50_ms']:>7.0f}/{r['eval_p99_ms']:<7.0f} | {r['rss_kib']:>13.2f}"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
