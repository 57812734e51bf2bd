"""Invariants of the reconciler under random sequences of job and cluster changes."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caravan.scheduler.names import alloc_index

from . import models as m
from .conftest import cluster, make_job, make_node, run
from .test_reconcile import bump, live, set_running

ACTIONS = st.one_of(
    st.tuples(st.just("scale"), st.integers(0, 6)),
    st.tuples(st.just("image"), st.integers(0, 3)),
    st.tuples(st.just("meta"), st.integers(0, 3)),
    st.tuples(st.just("fail"), st.integers(0, 50)),
    st.tuples(st.just("healthy"), st.just(0)),
    st.tuples(st.just("down"), st.integers(0, 5)),
    st.tuples(st.just("join"), st.integers(0, 1000)),
    st.tuples(st.just("promote"), st.just(0)),
)


def apply(h: Any, job: m.Job, action: tuple[str, int]) -> m.Job:
    kind, arg = action
    if kind == "scale":
        job = bump(job, count=arg)
    elif kind == "image":
        job = bump(job, task={"config": {"image": f"v{arg}-{job.version}"}})
    elif kind == "meta":
        job = bump(job, meta={"rev": str(arg)})
    elif kind == "fail":
        allocs = live(h)
        if allocs:
            victim = allocs[arg % len(allocs)]
            h.upsert_alloc(victim.model_copy(update={"client_status": "failed"}))
    elif kind == "healthy":
        set_running(h, healthy=True)
    elif kind == "down":
        node = h.node_by_id(f"node-{arg:04d}")
        if node is not None:
            h.upsert_node(node.model_copy(update={"status": "down"}))
    elif kind == "join":
        h.upsert_node(make_node(f"extra-{arg}"))
    elif kind == "promote":
        dep = h.latest_deployment_by_job("default", "web")
        if dep is not None and dep.status == "running":
            groups = {
                name: state.model_copy(update={"promoted": True})
                for name, state in dep.task_groups.items()
            }
            h.upsert_deployment(dep.model_copy(update={"task_groups": groups}))
    h.upsert_job(job)
    return job


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    count=st.integers(1, 5),
    max_parallel=st.integers(1, 3),
    canary=st.integers(0, 2),
    actions=st.lists(ACTIONS, max_size=12),
)
def test_reconciler_invariants(
    count: int, max_parallel: int, canary: int, actions: list[tuple[str, int]]
) -> None:
    h = cluster(6)
    policy = m.ReschedulePolicy(delay=0, delay_function="constant", unlimited=True)
    update = m.UpdateStrategy(max_parallel=max_parallel, canary=canary)
    job = make_job(count=count, group={"update": update, "reschedule_policy": policy})
    h.upsert_job(job)
    run(h, job)
    for action in actions:
        job = apply(h, job, action)
        plans_before = len(h.plans)
        run(h, job)
        want = job.task_groups[0].count
        allocs = live(h)
        # never more than count + canaries running for the group
        assert len(allocs) <= want + canary
        # never more than max_parallel destructive updates in one round
        for plan in h.plans[plans_before:]:
            updating = [
                a
                for stops in plan.node_update.values()
                for a in stops
                if a.desired_description == "alloc is being updated due to job update"
            ]
            assert len(updating) <= max_parallel
        # names are unique and within 0..count-1 (canaries borrow the name they will replace)
        regular = [a for a in allocs if not (a.deployment_status and a.deployment_status.canary)]
        names = Counter(a.name for a in regular)
        assert all(n == 1 for n in names.values()), names
        assert all(0 <= alloc_index(a.name) < max(want, 1) for a in regular), sorted(names)

    # Once allocations turn healthy and canaries are promoted, the group converges on the job.
    for _ in range(12):
        job = apply(h, job, ("healthy", 0))
        job = apply(h, job, ("promote", 0))
        run(h, job, triggered_by="deployment-watcher")
    allocs = live(h)
    assert len(allocs) == job.task_groups[0].count
    assert {a.job.version for a in allocs} <= {job.version}
    assert sorted(a.name for a in allocs) == [f"web.g[{i}]" for i in range(len(allocs))]
