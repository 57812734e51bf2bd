"""Random health events through the reconciler and the deployment state machine together.

A stable job version runs; a new image is rolled out with random ``count``, ``max_parallel``
and ``canary``; allocations report healthy or unhealthy in random order. Whatever happens:
no more than ``max_parallel`` replacements are ever in flight, and the deployment ends
where Nomad's would: successful with every allocation on the new version when all were
healthy, failed due to unhealthy allocations otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caravan.deploy import assess
from caravan.scheduler.build import SchedulerModels
from caravan.scheduler.generic import GenericScheduler
from caravan.scheduler.harness import Harness
from caravan.structs import (
    Allocation,
    AllocDeploymentStatus,
    Deployment,
    Evaluation,
    Job,
    Node,
    canonicalize,
)

S = 1_000_000_000
T0 = 1_700_000_000 * S
MODELS = SchedulerModels(Allocation, Evaluation, Deployment)


def _job(
    count: int, max_parallel: int, canary: int, image: str, version: int, revert: bool = False
) -> Job:
    job = canonicalize(
        Job.from_api(
            {
                "ID": "web",
                "Datacenters": ["dc1"],
                "Update": {
                    "MaxParallel": max_parallel,
                    "Canary": canary,
                    "ProgressDeadline": 0,
                    "AutoRevert": revert,
                },
                "TaskGroups": [
                    {
                        "Name": "g",
                        "Count": count,
                        "Tasks": [
                            {
                                "Name": "t",
                                "Driver": "mock",
                                "Config": {"image": image},
                                "Resources": {"CPU": 100, "MemoryMB": 64},
                            }
                        ],
                    }
                ],
            }
        )
    )
    return job.model_copy(update={"version": version, "job_modify_index": version + 1})


def _node(i: int) -> Node:
    return Node.from_api(
        {
            "ID": f"n{i}",
            "Name": f"n{i}",
            "Datacenter": "dc1",
            "Status": "ready",
            "Attributes": {"kernel.name": "linux"},
            "Drivers": {"mock": {"Detected": True, "Healthy": True}},
            "NodeResources": {
                "Cpu": {"CpuShares": 8000},
                "Memory": {"MemoryMB": 8192},
                "Disk": {"DiskMB": 100000},
            },
        }
    )


class Sim:
    def __init__(self) -> None:
        self.h = Harness()
        for i in range(3):
            self.h.upsert_node(_node(i))
        self.now = T0
        self.seq = 0
        self.versions: list[Job] = []
        self.revert_job: Job | None = None

    def schedule(self, job: Job) -> None:
        self.seq += 1
        ev = Evaluation(id=f"e{self.seq}", job_id="web", namespace="default", type="service")
        GenericScheduler(batch=False, clock=lambda: self.now, seed=self.seq, models=MODELS).process(
            ev, self.h, self.h
        )

    def live(self) -> list[Any]:
        return self.h.live_allocs("default", "web")

    def deployment(self) -> Any:
        return self.h.latest_deployment_by_job("default", "web")

    def report(self, alloc: Any, healthy: bool) -> None:
        self.now += S
        prev = alloc.deployment_status
        status = AllocDeploymentStatus(
            healthy=healthy,
            timestamp=datetime.fromtimestamp(self.now / S, UTC),
            canary=bool(prev is not None and prev.canary),
        )
        self.h.upsert_alloc(
            alloc.model_copy(update={"client_status": "running", "deployment_status": status})
        )

    def step_machine(self, job: Job, operator_promotes: bool) -> None:
        """Apply one assessment; the operator promotes canaries as soon as they are healthy."""
        dep = self.deployment()
        out = assess(dep, job, self.h.allocs_by_job("default", "web"), self.now, self.versions)
        if out.status is not None:
            self.revert_job = out.revert_job
            self.h.upsert_deployment(
                dep.model_copy(update={"status": out.status, "status_description": out.description})
            )
            return
        waiting = [g for g in out.groups.values() if g.awaiting_promotion]
        if out.promote or (
            operator_promotes and waiting and all(g.canaries_healthy for g in waiting)
        ):
            groups = {
                n: s.model_copy(update={"promoted": True}) for n, s in dep.task_groups.items()
            }
            self.h.upsert_deployment(dep.model_copy(update={"task_groups": groups}))


def _undecided(allocs: list[Any]) -> list[Any]:
    return [a for a in allocs if a.deployment_status is None or a.deployment_status.healthy is None]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    count=st.integers(1, 4),
    max_parallel=st.integers(1, 3),
    canary=st.integers(0, 2),
    auto_promote=st.booleans(),
    auto_revert=st.booleans(),
    picks=st.lists(st.tuples(st.integers(0, 10), st.booleans()), min_size=1, max_size=30),
)
def test_rollout_invariants(
    count: int,
    max_parallel: int,
    canary: int,
    auto_promote: bool,
    auto_revert: bool,
    picks: list[tuple[int, bool]],
) -> None:
    sim = Sim()
    v0 = _job(count, max_parallel, canary, "v0", 0, auto_revert)
    sim.h.upsert_job(v0)
    sim.schedule(v0)
    for alloc in sim.live():
        sim.report(alloc, True)
    sim.step_machine(v0, operator_promotes=True)
    assert sim.deployment().status == "successful"
    stable = v0.model_copy(update={"stable": True})

    v1 = _job(count, max_parallel, canary, "v1", 1, auto_revert)
    sim.versions = [stable, v1]
    v1.task_groups[0].update.auto_promote = auto_promote
    sim.h.upsert_job(v1)
    sim.schedule(v1)
    rollout = sim.deployment()
    assert rollout.job_version == 1

    any_unhealthy = False
    events = iter(picks)
    for _ in range(4 * (count + canary) + 4):
        new = [a for a in sim.live() if a.job.version == 1]
        in_flight = [
            a for a in _undecided(new) if not (a.deployment_status and a.deployment_status.canary)
        ]
        assert len(in_flight) <= max_parallel
        if sim.deployment().status != "running":
            break
        pending = _undecided(new)
        if not pending:
            sim.step_machine(v1, operator_promotes=True)
            sim.schedule(v1)
            continue
        pick, healthy = next(events, (0, True))
        alloc = pending[pick % len(pending)]
        any_unhealthy |= not healthy
        sim.report(alloc, healthy)
        sim.step_machine(v1, operator_promotes=True)
        sim.schedule(v1)

    final = sim.deployment()
    if any_unhealthy and auto_revert:
        assert (final.status, final.status_description) == (
            "failed",
            "Failed due to unhealthy allocations - rolling back to job version 0",
        )
        assert sim.revert_job is not None
        assert sim.revert_job.task_groups[0].tasks[0].config == v0.task_groups[0].tasks[0].config
    elif any_unhealthy:
        assert (final.status, final.status_description) == (
            "failed",
            "Failed due to unhealthy allocations",
        )
        assert sim.revert_job is None
    else:
        assert (final.status, final.status_description) == (
            "successful",
            "Deployment completed successfully",
        )
        live = sim.live()
        assert len(live) == count and {a.job.version for a in live} == {1}
