"""Demo 1 of the walkthrough: scale 1 -> 3, then roll a new image one allocation at a time."""

from __future__ import annotations

import itertools

from caravan.deploy import time_ns

from .conftest import Cluster, job, version


async def test_first_deployment_succeeds_and_marks_version_stable(cluster: Cluster) -> None:
    await cluster.server.job_register(job(count=1))
    await cluster.settle()
    dep = cluster.deployment()
    assert (dep.status, dep.status_description) == ("running", "Deployment is running")
    assert dep.task_groups["cache"].desired_total == 1
    await cluster.report(cluster.live(), healthy=True)
    dep = cluster.deployment()
    assert (dep.status, dep.status_description) == (
        "successful",
        "Deployment completed successfully",
    )
    assert dep.task_groups["cache"].healthy_allocs == 1
    assert cluster.job().stable is True


async def test_demo1_scale_then_roll_one_at_a_time(cluster: Cluster) -> None:
    await cluster.server.job_register(job(count=1))
    await cluster.settle()
    first = cluster.live()
    await cluster.report(first, healthy=True)

    # Scale 1 -> 3: an in-place change; the first allocation stays.
    await cluster.server.job_register(job(count=3))
    await cluster.settle()
    allocs = cluster.live()
    assert len(allocs) == 3 and first[0].id in {a.id for a in allocs}
    scaled = cluster.deployment()
    assert scaled.job_version == 1 and scaled.status == "running"
    # The kept allocation joined the new deployment; its client reports its health again.
    kept = cluster.state.alloc_by_id(first[0].id)
    assert kept.deployment_id == scaled.id and kept.deployment_status is None
    await cluster.report(allocs, healthy=True)
    scaled = cluster.deployment()
    assert scaled.status == "successful"
    counters = scaled.task_groups["cache"]
    assert (counters.placed_allocs, counters.healthy_allocs) == (3, 3)
    assert cluster.job().stable is True

    # New image: destructive, one at a time, each after the previous one became healthy.
    await cluster.server.job_register(job(count=3, image="redis:4.0"))
    await cluster.settle()
    rollout = cluster.deployment()
    assert rollout.job_version == 2
    replaced = []
    for step in range(3):
        new = [a for a in cluster.live() if version(a) == 2]
        fresh = [a for a in new if a.id not in {r.id for r in replaced}]
        assert len(fresh) == 1, f"step {step}: {len(fresh)} replacements in flight"
        assert len(cluster.live()) == 3
        cluster.clock.advance(11)
        await cluster.report(fresh, healthy=True)
        replaced.append(cluster.state.alloc_by_id(fresh[0].id))
    # Each replacement was created only after its predecessor was reported healthy.
    for before, after in itertools.pairwise(replaced):
        assert after.create_index > before.deployment_status.modify_index
        assert time_ns(after.deployment_status.timestamp) > time_ns(
            before.deployment_status.timestamp
        )
    assert {version(a) for a in cluster.live()} == {2}
    assert sorted(a.name for a in cluster.live()) == [f"web.cache[{i}]" for i in range(3)]
    done = cluster.deployment()
    assert done.id == rollout.id
    assert (done.status, done.status_description) == (
        "successful",
        "Deployment completed successfully",
    )
    assert done.task_groups["cache"].healthy_allocs == 3
    assert cluster.job().stable is True
    evals = [e for e in cluster.state.evals() if e.triggered_by == "deployment-watcher"]
    assert evals and all(e.deployment_id for e in evals)
