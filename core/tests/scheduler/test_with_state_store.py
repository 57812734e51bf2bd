"""The service scheduler against the real state store, evaluation after evaluation.

Each evaluation reads a snapshot; its plan is encoded as the plan applier encodes it and
applied by an FSM, while a second FSM (a follower) decodes the same commands. What the
scheduler remembers between evaluations (node usage, the usable nodes, score breakdowns)
must follow every change of the store.
"""

from __future__ import annotations

import random
from typing import Any

from caravan.scheduler import Plan, PlanResult, new_scheduler
from caravan.scheduler.context import EvalContext
from caravan.scheduler.resources import Usage
from caravan.state import FSM, StateStore
from caravan.state import commands as c
from caravan.structs import Evaluation, Job, Node, canonicalize

NOW = 1_700_000_000_000_000_000


def _node(i: int, cpu: int = 1000, **extra: Any) -> Node:
    node = Node.from_api(
        {
            "ID": f"node-{i:03d}",
            "Name": f"node-{i:03d}",
            "Datacenter": "dc1",
            "Status": "ready",
            "Drivers": {"mock": {"Detected": True, "Healthy": True}},
            "NodeResources": {
                "Cpu": {"CpuShares": cpu},
                "Memory": {"MemoryMB": 4096},
                "Disk": {"DiskMB": 10_000},
            },
            **extra,
        }
    )
    return node.model_copy(update={"computed_class": node.compute_class()})


def _job(job_id: str, count: int, cpu: int = 100) -> Job:
    return canonicalize(
        Job.from_api(
            {
                "ID": job_id,
                "Type": "service",
                "Datacenters": ["dc1"],
                "TaskGroups": [
                    {
                        "Name": "app",
                        "Count": count,
                        "Tasks": [
                            {
                                "Name": "app",
                                "Driver": "mock",
                                "Config": {},
                                "Resources": {"CPU": cpu, "MemoryMB": 32},
                            }
                        ],
                    }
                ],
            }
        )
    )


class Cluster:
    """A leader FSM and a follower FSM fed the same commands; the scheduler's planner."""

    def __init__(self, nodes: list[Node]) -> None:
        self.leader = FSM(StateStore())
        self.follower = FSM(StateStore())
        self.index = 0
        self.scheduler = new_scheduler("service", clock=lambda: NOW, seed=3)
        for node in nodes:
            self.commit(c.node_register(node))

    def commit(self, data: bytes) -> Any:
        self.index += 1
        out = self.leader.apply(self.index, data)
        self.follower.apply(self.index, data)
        return out

    def run(self, job: Job) -> Any:
        evaluation = Evaluation.from_api(
            {
                "ID": f"00000000-0000-4000-8000-{self.index:012d}",
                "Namespace": "default",
                "Priority": 50,
                "Type": "service",
                "TriggeredBy": "job-register",
                "JobID": job.id,
                "Status": "pending",
            }
        )
        self.commit(c.job_register(job, [evaluation]))
        self.scheduler.process(evaluation, self.leader.store.snapshot(), self)
        return self.leader.store.eval_by_id(evaluation.id)

    # ---------------------------------------------------------------- Planner

    def submit_plan(self, plan: Plan) -> PlanResult:
        placed = [a for allocs in plan.node_allocation.values() for a in allocs]
        out = self.commit(
            c.plan_apply(plan.job, allocs=placed, deployment=plan.deployment, eval_id=plan.eval_id)
        )
        return PlanResult(node_allocation=dict(plan.node_allocation), alloc_index=out["Index"])

    def refresh_state(self, index: int) -> Any:
        return self.leader.store.snapshot()

    def update_eval(self, evaluation: Any) -> None:
        self.commit(c.eval_upsert([evaluation]))

    def create_eval(self, evaluation: Any) -> None:
        self.commit(c.eval_upsert([evaluation]))

    # ---------------------------------------------------------------- reads

    def cpu_used(self) -> dict[str, int]:
        used: dict[str, int] = {}
        for alloc in self.leader.store.snapshot().allocs():
            used[alloc.node_id] = used.get(alloc.node_id, 0) + 100
        return used


def test_later_evaluations_see_what_earlier_ones_placed() -> None:
    cluster = Cluster([_node(i) for i in range(4)])  # room for 40 instances of cpu 100
    for n in range(3):
        assert cluster.run(_job(f"web-{n}", 12)).status == "complete"
    last = cluster.run(_job("web-3", 12))
    assert last.queued_allocations == {"app": 8}
    assert last.failed_tg_allocs["app"].dimension_exhausted == {"cpu": 4}
    assert cluster.cpu_used() == {f"node-{i:03d}": 1000 for i in range(4)}


def test_a_node_made_ineligible_between_evaluations_gets_nothing_more() -> None:
    cluster = Cluster([_node(i) for i in range(3)])
    cluster.run(_job("first", 3))
    cluster.commit(c.node_eligibility("node-001", "ineligible"))
    cluster.run(_job("second", 12))
    placed = cluster.leader.store.snapshot().allocs_by_job("default", "second")
    assert len(placed) == 12
    assert "node-001" not in {a.node_id for a in placed}


def test_placement_metrics_keep_nomads_shape_and_survive_the_log() -> None:
    cluster = Cluster([_node(i, cpu=1000 + 500 * (i % 2)) for i in range(8)])
    cluster.run(_job("web", 30))
    leader = cluster.leader.store.snapshot()
    follower = cluster.follower.store.snapshot()
    allocs = leader.allocs_by_job("default", "web")
    assert len(allocs) == 30
    for alloc in allocs:
        assert follower.alloc_by_id(alloc.id) == alloc
        metrics = alloc.to_api()["Metrics"]
        assert metrics["NodesInPool"] == 8 and metrics["NodesAvailable"] == {"dc1": 8}
        assert metrics["NodesEvaluated"] >= 3
        scores = metrics["ScoreMetaData"]
        assert 1 <= len(scores) <= 5
        norm = [s["NormScore"] for s in scores]
        assert norm == sorted(norm, reverse=True)
        assert scores[0]["NodeID"] == alloc.node_id
        for entry in scores:
            assert set(entry) == {"NodeID", "Scores", "NormScore"}
            assert "binpack" in entry["Scores"]
            parts = entry["Scores"].values()
            assert abs(entry["NormScore"] - sum(parts) / len(parts)) < 1e-12


def test_an_evaluation_never_changes_the_usage_other_evaluations_read() -> None:
    cluster = Cluster([_node(0)])
    cluster.run(_job("web", 2))
    snap = cluster.leader.store.snapshot()
    node = snap.node_by_id("node-000")
    plan = Plan(eval_id="e", priority=50, job=None)
    first = EvalContext(snap, plan, random.Random(1), None)
    before = first.node_usage(node)
    assert before.used_cpu == 200
    first.place(
        cluster.leader.store.snapshot().allocs()[0].model_copy(update={"id": "new"}),
        node,
        Usage(cpu=300, memory_mb=32),
    )
    assert first.node_usage(node).used_cpu == 500
    second = EvalContext(snap, Plan(eval_id="f", priority=50, job=None), random.Random(1), None)
    assert second.node_usage(node).used_cpu == 200
