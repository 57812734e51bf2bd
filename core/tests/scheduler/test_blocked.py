"""Jobs that do not fit get a blocked evaluation and are placed once the cluster grows."""

from __future__ import annotations

from caravan.scheduler.harness import Harness
from caravan.scheduler.planner import Plan

from . import models as m
from .conftest import cluster, make_job, make_node, run


def test_too_big_job_blocks_and_is_placed_when_a_node_joins() -> None:
    h = cluster(3, cpu=1000, memory=1000)
    job = make_job(count=2, cpu=1500, memory=500)
    h.upsert_job(job)
    ev = run(h, job)
    assert ev.status == "complete"
    failed = ev.failed_tg_allocs["g"]
    assert failed.nodes_exhausted == 3
    assert failed.dimension_exhausted == {"cpu": 3}
    assert failed.coalesced_failures == 1
    assert ev.queued_allocations == {"g": 2}
    (blocked,) = h.created_evals
    assert blocked.status == "blocked"
    assert blocked.triggered_by == "queued-allocs"
    assert ev.blocked_eval == blocked.id
    # the nodes' class could run the job once it has room
    assert blocked.class_eligibility and all(blocked.class_eligibility.values())
    assert not blocked.escaped_computed_class

    h.upsert_node(make_node("big", cpu=4000, memory=4000))
    again = run(h, job, status="blocked", triggered_by="queued-allocs")
    assert again.status == "complete"
    assert again.failed_tg_allocs is None
    assert {a.node_id for a in h.live_allocs("default", "web")} == {"big"}
    assert len(h.live_allocs("default", "web")) == 2
    assert len(h.created_evals) == 1


def test_blocked_eval_that_still_cannot_place_stays_blocked() -> None:
    h = cluster(1, cpu=100, memory=100)
    job = make_job(count=1, cpu=500)
    h.upsert_job(job)
    ev = run(h, job, status="blocked", triggered_by="queued-allocs")
    assert ev.status == "blocked"
    assert h.created_evals == []


def test_blocked_eval_names_ineligible_classes() -> None:
    h = Harness()
    h.upsert_node(make_node("win", computed_class="windows", attributes={"kernel.name": "windows"}))
    h.upsert_node(make_node("lin", computed_class="linux", cpu=100))
    job = make_job(
        cpu=500, constraints=[m.Constraint(ltarget="${attr.kernel.name}", rtarget="linux")]
    )
    h.upsert_job(job)
    run(h, job)
    (blocked,) = h.created_evals
    assert blocked.class_eligibility == {"windows": False, "linux": True}


def test_memory_exhaustion_is_reported_as_memory() -> None:
    h = cluster(2, cpu=4000, memory=512)
    job = make_job(count=1, cpu=100, memory=1024)
    h.upsert_job(job)
    ev = run(h, job)
    assert ev.failed_tg_allocs["g"].dimension_exhausted == {"memory": 2}


def test_partial_commit_is_retried_against_fresh_state() -> None:
    h = cluster(4)
    job = make_job(count=4)
    h.upsert_job(job)
    refused_once: set[str] = set()

    def reject(plan: Plan) -> set[str]:
        if refused_once:
            return set()
        first = sorted(plan.node_allocation)[0]
        refused_once.add(first)
        return {first}

    h.reject_nodes = reject
    ev = run(h, job)
    assert ev.status == "complete"
    assert len(h.plans) == 2
    assert len(h.live_allocs("default", "web")) == 4


def test_plans_refused_every_time_fail_the_eval() -> None:
    h = cluster(2)
    job = make_job(count=2)
    h.upsert_job(job)
    h.reject_nodes = lambda plan: set(plan.node_allocation)
    ev = run(h, job)
    assert ev.status == "failed"
    assert ev.status_description == "maximum attempts reached (5)"


def test_stopping_a_job_stops_its_allocations() -> None:
    h = cluster(2)
    job = make_job(count=3)
    h.upsert_job(job)
    run(h, job)
    h.upsert_job(job.model_copy(update={"stop": True}))
    run(h, job, triggered_by="job-deregister")
    allocs = h.allocs_by_job("default", "web")
    assert {a.desired_status for a in allocs} == {"stop"}
    assert {a.desired_description for a in allocs} == {"alloc not needed due to job update"}

    h.delete_job("default", "web")
    ev = run(h, job, triggered_by="job-deregister")
    assert ev.status == "complete"


def test_empty_harness_job_missing() -> None:
    h = Harness()
    job = make_job()
    ev = run(h, job)
    assert ev.status == "complete"
    assert h.plans == []
