"""System jobs: one allocation per feasible node, following the cluster as it changes."""

from __future__ import annotations

from caravan.scheduler.harness import Harness

from . import models as m
from .conftest import cluster, make_job, make_node, run


def system_job(**kw) -> m.Job:
    return make_job("agent", count=1, type="system", **kw)


def placed_nodes(h: Harness) -> list[str]:
    return sorted(a.node_id for a in h.live_allocs("default", "agent"))


def test_one_alloc_per_node_and_late_joiners() -> None:
    h = cluster(3)
    job = system_job()
    h.upsert_job(job)
    run(h, job)
    assert placed_nodes(h) == ["node-0000", "node-0001", "node-0002"]
    assert {a.name for a in h.live_allocs("default", "agent")} == {"agent.g[0]"}

    run(h, job, triggered_by="node-update")
    assert len(h.live_allocs("default", "agent")) == 3  # nothing doubled

    h.upsert_node(make_node("late"))
    run(h, job, triggered_by="node-update")
    assert placed_nodes(h) == ["late", "node-0000", "node-0001", "node-0002"]


def test_node_becoming_eligible_gets_an_alloc() -> None:
    h = Harness()
    h.upsert_node(make_node("a"))
    h.upsert_node(make_node("b", scheduling_eligibility="ineligible"))
    job = system_job()
    h.upsert_job(job)
    run(h, job)
    assert placed_nodes(h) == ["a"]
    h.upsert_node(make_node("b"))
    run(h, job, triggered_by="node-update")
    assert placed_nodes(h) == ["a", "b"]


def test_constraints_skip_nodes_without_failing() -> None:
    h = Harness()
    h.upsert_node(make_node("lin"))
    h.upsert_node(make_node("win", attributes={"kernel.name": "windows"}))
    job = system_job(constraints=[m.Constraint(ltarget="${attr.kernel.name}", rtarget="linux")])
    h.upsert_job(job)
    ev = run(h, job)
    assert placed_nodes(h) == ["lin"]
    assert ev.failed_tg_allocs is None


def test_infeasible_and_lost_nodes_lose_their_allocs() -> None:
    h = cluster(3)
    job = system_job()
    h.upsert_job(job)
    run(h, job)
    h.upsert_node(make_node("node-0000", status="down"))
    h.upsert_node(make_node("node-0001", attributes={"kernel.name": "plan9"}))
    h.upsert_job(
        job.model_copy(
            update={
                "constraints": [m.Constraint(ltarget="${attr.kernel.name}", rtarget="linux")],
                "version": 1,
                "job_modify_index": 2,
            }
        )
    )
    run(h, h.job_by_id("default", "agent"), triggered_by="node-update")
    stopped = {
        a.node_id: a for a in h.allocs_by_job("default", "agent") if a.desired_status == "stop"
    }
    assert stopped["node-0000"].client_status == "lost"
    assert stopped["node-0000"].desired_description == "alloc is lost since its node is down"
    assert stopped["node-0001"].desired_description == "alloc not needed due to job update"
    assert placed_nodes(h) == ["node-0002"]


def test_failed_system_alloc_is_not_rescheduled() -> None:
    h = cluster(2)
    job = system_job()
    h.upsert_job(job)
    run(h, job)
    victim = h.live_allocs("default", "agent")[0]
    h.upsert_alloc(victim.model_copy(update={"client_status": "failed"}))
    run(h, job, triggered_by="alloc-failure")
    allocs = h.allocs_by_job("default", "agent")
    assert len(allocs) == 2


def test_full_node_is_a_failed_placement() -> None:
    h = Harness()
    h.upsert_node(make_node("small", cpu=50))
    h.upsert_node(make_node("ok"))
    job = system_job()
    h.upsert_job(job)
    ev = run(h, job)
    assert placed_nodes(h) == ["ok"]
    assert ev.failed_tg_allocs["g"].dimension_exhausted == {"cpu": 1}
    assert h.created_evals == []
