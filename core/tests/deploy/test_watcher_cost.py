"""A watcher pass costs what changed: only the deployments of jobs whose allocations,
deployments or registration changed are assessed again, plus those whose deadline came due."""

from __future__ import annotations

import asyncio

from .conftest import Cluster, job

JOBS = [f"web-{i}" for i in range(5)]


async def _running(cluster: Cluster) -> None:
    for job_id in JOBS:
        await cluster.server.job_register(job(count=2, ID=job_id))
    await cluster.settle()
    assert all(cluster.deployment(j).status == "running" for j in JOBS)


async def test_idle_passes_assess_nothing(cluster: Cluster) -> None:
    await _running(cluster)
    before = cluster.watcher.assessments
    await asyncio.sleep(0.3)  # several polls of the watcher
    assert cluster.watcher.assessments == before


async def test_a_change_to_one_job_reassesses_only_its_deployment(cluster: Cluster) -> None:
    await _running(cluster)
    before = cluster.watcher.assessments
    await cluster.report(cluster.live("web-3"), healthy=True)
    await asyncio.sleep(0.2)
    assert cluster.deployment("web-3").status == "successful"
    assert all(cluster.deployment(j).status == "running" for j in JOBS if j != "web-3")
    # The report and the watcher's own status write: web-3's deployment only.
    assert 1 <= cluster.watcher.assessments - before <= 2


async def test_a_progress_deadline_is_noticed_without_any_change(cluster: Cluster) -> None:
    update = {
        "MaxParallel": 1,
        "HealthyDeadline": 30_000_000_000,
        "ProgressDeadline": 60_000_000_000,
    }
    await cluster.server.job_register(job(count=1, ID="slow", update=update))
    await _running(cluster)
    before = cluster.watcher.assessments
    cluster.clock.advance(61)
    cluster.watcher.kick()
    await cluster.settle()
    assert cluster.deployment("slow").status_description == "Failed due to progress deadline"
    assert all(cluster.deployment(j).status == "running" for j in JOBS)
    assert cluster.watcher.assessments - before <= 3
