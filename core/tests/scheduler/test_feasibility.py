"""Which nodes a job may use, and how the reasons show up in the placement metrics."""

from __future__ import annotations

from caravan.scheduler.harness import Harness

from . import models as m
from .conftest import cluster, make_job, make_node, run


def node_of(h: Harness, job_id: str = "web") -> set[str]:
    return {a.node_id for a in h.live_allocs("default", job_id)}


def test_constraint_filters_nodes_and_records_the_reason() -> None:
    h = Harness()
    h.upsert_node(make_node("lin", attributes={"kernel.name": "linux"}))
    for i in range(3):
        h.upsert_node(make_node(f"win{i}", attributes={"kernel.name": "windows"}))
    job = make_job(constraints=[m.Constraint(ltarget="${attr.kernel.name}", rtarget="linux")])
    h.upsert_job(job)
    run(h, job)
    assert node_of(h) == {"lin"}
    metrics = h.live_allocs("default", "web")[0].metrics
    assert metrics.nodes_evaluated >= 1
    # every windows node seen was filtered with Nomad's constraint rendering
    assert metrics.constraint_filtered.get("${attr.kernel.name} = linux", 0) == (
        metrics.nodes_filtered
    )


def test_nothing_feasible_reports_filtered_nodes() -> None:
    h = cluster(4, attributes={"kernel.name": "windows"})
    job = make_job(constraints=[m.Constraint(ltarget="${attr.kernel.name}", rtarget="linux")])
    h.upsert_job(job)
    ev = run(h, job)
    failed = ev.failed_tg_allocs["g"]
    assert failed.nodes_evaluated == 4
    assert failed.nodes_filtered == 4
    assert failed.constraint_filtered == {"${attr.kernel.name} = linux": 4}
    assert ev.queued_allocations == {"g": 1}


def test_missing_or_unhealthy_driver() -> None:
    h = Harness()
    h.upsert_node(make_node("none", drivers={}))
    h.upsert_node(make_node("sick", drivers={"mock": m.DriverInfo(healthy=False)}))
    h.upsert_node(make_node("ok"))
    job = make_job(count=3)
    h.upsert_job(job)
    ev = run(h, job)
    assert node_of(h) == {"ok"}
    assert ev.failed_tg_allocs is None

    only_bad = Harness()
    only_bad.upsert_node(make_node("none", drivers={}))
    only_bad.upsert_node(make_node("sick", drivers={"mock": m.DriverInfo(healthy=False)}))
    only_bad.upsert_job(job)
    ev = run(only_bad, job)
    assert ev.failed_tg_allocs["g"].constraint_filtered == {"missing drivers": 2}


def test_datacenter_globs_and_node_pools() -> None:
    h = Harness()
    h.upsert_node(make_node("a", datacenter="us-east-1"))
    h.upsert_node(make_node("b", datacenter="us-west-1"))
    h.upsert_node(make_node("c", datacenter="us-east-2", node_pool="gpu"))
    h.upsert_node(make_node("d", datacenter="eu-1"))
    job = make_job(count=4, datacenters=["us-east-*"])
    h.upsert_job(job)
    run(h, job)
    assert node_of(h) == {"a"}

    gpu = make_job("gpu", count=2, datacenters=["*"], node_pool="gpu")
    h.upsert_job(gpu)
    run(h, gpu)
    assert node_of(h, "gpu") == {"c"}

    everywhere = make_job("all", count=8, node_pool="all", group={"name": "g"})
    h.upsert_job(everywhere)
    run(h, everywhere)
    assert node_of(h, "all") == {"a", "b", "c", "d"}


def test_only_ready_eligible_undrained_nodes_are_used() -> None:
    h = Harness()
    h.upsert_node(make_node("down", status="down"))
    h.upsert_node(make_node("init", status="initializing"))
    h.upsert_node(make_node("inel", scheduling_eligibility="ineligible"))
    h.upsert_node(make_node("drain", drain_strategy={"Deadline": 0}))
    h.upsert_node(make_node("ok"))
    job = make_job(count=5)
    h.upsert_job(job)
    ev = run(h, job)
    assert node_of(h) == {"ok"}
    assert ev.status == "complete"


def test_distinct_hosts_puts_each_alloc_on_its_own_node() -> None:
    h = cluster(5)
    job = make_job(count=5, constraints=[m.Constraint(operand="distinct_hosts", rtarget="true")])
    h.upsert_job(job)
    run(h, job)
    assert len(node_of(h)) == 5

    bigger = job.model_copy(
        update={
            "task_groups": [job.task_groups[0].model_copy(update={"count": 6})],
            "version": 1,
            "job_modify_index": 2,
        }
    )
    h.upsert_job(bigger)
    ev = run(h, bigger)
    assert len(h.live_allocs("default", "web")) == 5
    failed = ev.failed_tg_allocs["g"]
    assert failed.constraint_filtered == {"distinct_hosts": 5}


def test_group_level_distinct_hosts_ignores_other_groups() -> None:
    h = cluster(2)
    task = m.Task(resources=m.Resources(cpu=100, memory_mb=100))
    dh = [m.Constraint(operand="distinct_hosts", rtarget="true")]
    job = m.Job(
        id="web",
        task_groups=[
            m.TaskGroup(name="a", count=2, tasks=[task], constraints=dh),
            m.TaskGroup(name="b", count=2, tasks=[task], constraints=dh),
        ],
    )
    h.upsert_job(job)
    ev = run(h, job)
    assert ev.failed_tg_allocs is None
    allocs = h.live_allocs("default", "web")
    for group in ("a", "b"):
        assert len({a.node_id for a in allocs if a.task_group == group}) == 2


def test_distinct_property_limits_allocs_per_value() -> None:
    h = Harness()
    for i in range(6):
        h.upsert_node(make_node(f"n{i}", meta={"rack": f"r{i % 3}"}))
    h.upsert_node(make_node("norack"))
    job = make_job(
        count=4,
        constraints=[
            m.Constraint(operand="distinct_property", ltarget="${meta.rack}", rtarget="1")
        ],
    )
    h.upsert_job(job)
    ev = run(h, job)
    allocs = h.live_allocs("default", "web")
    racks = [h.node_by_id(a.node_id).meta["rack"] for a in allocs]
    assert sorted(racks) == ["r0", "r1", "r2"]
    assert ev.queued_allocations == {"g": 1}
    reasons = ev.failed_tg_allocs["g"].constraint_filtered
    assert any(r.startswith("distinct_property: ${meta.rack}=") for r in reasons)


def test_distinct_property_with_a_limit_of_two() -> None:
    h = Harness()
    for i in range(8):
        h.upsert_node(make_node(f"n{i}", meta={"rack": f"r{i % 2}"}))
    job = make_job(
        count=4,
        group={
            "constraints": [
                m.Constraint(operand="distinct_property", ltarget="${meta.rack}", rtarget="2")
            ]
        },
    )
    h.upsert_job(job)
    run(h, job)
    racks = [h.node_by_id(a.node_id).meta["rack"] for a in h.live_allocs("default", "web")]
    assert sorted(racks) == ["r0", "r0", "r1", "r1"]


def test_unique_constraints_are_checked_per_node_despite_shared_class() -> None:
    h = Harness()
    for i in range(4):
        h.upsert_node(make_node(f"n{i}", computed_class="same-class"))
    job = make_job(
        count=3,
        constraints=[m.Constraint(ltarget="${node.unique.name}", operand="!=", rtarget="n0")],
    )
    h.upsert_job(job)
    ev = run(h, job)
    assert ev.failed_tg_allocs is None
    assert "n0" not in node_of(h)


def test_class_cache_answers_for_nodes_of_the_same_class() -> None:
    h = Harness()
    # Two nodes claim the same class but differ: the first one seen decides for both,
    # which is exactly why classes must cover everything class-level checks read.
    h.upsert_node(make_node("a", computed_class="c1", attributes={"kernel.name": "linux"}))
    h.upsert_node(make_node("b", computed_class="c1", attributes={"kernel.name": "linux"}))
    h.upsert_node(make_node("c", computed_class="c2", attributes={"kernel.name": "darwin"}))
    job = make_job(
        count=2, constraints=[m.Constraint(ltarget="${attr.kernel.name}", rtarget="linux")]
    )
    h.upsert_job(job)
    run(h, job)
    assert node_of(h) <= {"a", "b"}
