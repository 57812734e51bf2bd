"""A job is placed end to end through the generic scheduler."""

from __future__ import annotations

from .conftest import cluster, make_job, run


def test_service_job_is_placed() -> None:
    h = cluster(3)
    job = make_job(count=4)
    h.upsert_job(job)
    ev = run(h, job)
    assert ev.status == "complete"
    live = h.live_allocs("default", "web")
    assert sorted(a.name for a in live) == [f"web.g[{i}]" for i in range(4)]
    assert ev.queued_allocations == {"g": 0}
    assert all(a.metrics.nodes_evaluated >= 1 for a in live)
