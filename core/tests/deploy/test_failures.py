"""Failing deployments: unhealthy allocations, progress deadlines, auto-revert, operators."""

from __future__ import annotations

import pytest

from caravan.server import RequestError

from .conftest import Cluster, job, undecided, version

REVERT = {"MaxParallel": 1, "AutoRevert": True, "ProgressDeadline": 0}


async def _stable_v0(cluster: Cluster, update: dict) -> None:
    await cluster.server.job_register(job(count=2, update=update))
    await cluster.settle()
    await cluster.report(cluster.live(), healthy=True)
    assert cluster.job().stable is True


async def test_unhealthy_allocation_reverts_to_the_stable_version(cluster: Cluster) -> None:
    await _stable_v0(cluster, REVERT)
    await cluster.server.job_register(job(count=2, image="redis:broken", update=REVERT))
    await cluster.settle()
    bad = [a for a in cluster.live() if version(a) == 1]
    assert len(bad) == 1
    failed_dep = cluster.deployment()
    await cluster.report(bad, healthy=False)
    failed = cluster.state.deployment_by_id(failed_dep.id)
    assert failed.status == "failed"
    assert failed.status_description == (
        "Failed due to unhealthy allocations - rolling back to job version 0"
    )
    reverted = cluster.job()
    assert reverted.version == 2
    assert reverted.task_groups[0].tasks[0].config["image"] == "redis:3.2"
    # The reverted version rolls out like any other.
    for _ in range(4):
        fresh = undecided(cluster.live())
        if not fresh:
            break
        await cluster.report(fresh, healthy=True)
    assert cluster.deployment().job_version == 2
    assert cluster.deployment().status == "successful"
    assert {version(a) for a in cluster.live()} == {2}


async def test_no_stable_version_to_revert_to(cluster: Cluster) -> None:
    await cluster.server.job_register(job(count=1, update=REVERT))
    await cluster.settle()
    await cluster.report(cluster.live(), healthy=False)
    dep = cluster.deployment()
    assert dep.status_description == (
        "Failed due to unhealthy allocations - no stable job version to auto revert to"
    )
    assert cluster.job().version == 0


async def test_without_auto_revert_the_failure_stops_the_rollout(cluster: Cluster) -> None:
    update = {**REVERT, "AutoRevert": False}
    await _stable_v0(cluster, update)
    await cluster.server.job_register(job(count=2, image="redis:broken", update=update))
    await cluster.settle()
    await cluster.report([a for a in cluster.live() if version(a) == 1], healthy=False)
    dep = cluster.deployment()
    assert (dep.status, dep.status_description) == ("failed", "Failed due to unhealthy allocations")
    assert cluster.job().version == 1
    # Nothing more is replaced once the deployment failed.
    assert sorted(version(a) for a in cluster.live()) == [0, 1]


async def test_progress_deadline_fails_and_reverts(cluster: Cluster) -> None:
    update = {
        "MaxParallel": 1,
        "AutoRevert": True,
        "MinHealthyTime": 1_000_000_000,
        "HealthyDeadline": 30_000_000_000,
        "ProgressDeadline": 60_000_000_000,
    }
    await _stable_v0(cluster, update)
    await cluster.server.job_register(job(count=2, image="redis:slow", update=update))
    await cluster.settle()
    dep = cluster.deployment()
    await cluster.report(undecided(cluster.live()), healthy=None)
    cluster.clock.advance(30)
    cluster.watcher.kick()
    await cluster.settle()
    assert cluster.state.deployment_by_id(dep.id).status == "running"
    cluster.clock.advance(31)
    cluster.watcher.kick()
    await cluster.settle()
    failed = cluster.state.deployment_by_id(dep.id)
    assert failed.status == "failed"
    assert failed.status_description == (
        "Failed due to progress deadline - rolling back to job version 0"
    )
    assert cluster.job().version == 2


async def test_healthy_allocation_pushes_the_progress_deadline_back(cluster: Cluster) -> None:
    update = {
        "MaxParallel": 1,
        "HealthyDeadline": 30_000_000_000,
        "ProgressDeadline": 60_000_000_000,
    }
    await cluster.server.job_register(job(count=2, update=update))
    await cluster.settle()
    dep = cluster.deployment()
    cluster.clock.advance(50)
    await cluster.report(cluster.live()[:1], healthy=True)
    cluster.clock.advance(50)
    cluster.watcher.kick()
    await cluster.settle()
    assert cluster.state.deployment_by_id(dep.id).status == "running"
    cluster.clock.advance(11)
    cluster.watcher.kick()
    await cluster.settle()
    assert cluster.state.deployment_by_id(dep.id).status_description == (
        "Failed due to progress deadline"
    )


async def test_operator_fail_pause_and_resume(cluster: Cluster) -> None:
    update = {"MaxParallel": 1, "AutoRevert": True}
    await _stable_v0(cluster, update)
    await cluster.server.job_register(job(count=2, image="redis:4.0", update=update))
    await cluster.settle()
    dep = cluster.deployment()
    await cluster.server.deployment_pause(dep.id, True)
    await cluster.settle()
    assert (cluster.deployment().status, cluster.deployment().status_description) == (
        "paused",
        "Deployment is paused",
    )
    await cluster.report([a for a in cluster.live() if version(a) == 1], healthy=True)
    # Paused: the healthy allocation does not let the next one through.
    assert sorted(version(a) for a in cluster.live()) == [0, 1]
    await cluster.server.deployment_pause(dep.id, False)
    await cluster.settle()
    assert cluster.deployment().status_description == "Deployment is running"
    assert sorted(version(a) for a in cluster.live()) == [1, 1]
    reply = await cluster.server.deployment_fail(dep.id)
    await cluster.settle()
    assert reply["RevertedJobVersion"] == 0
    assert cluster.state.deployment_by_id(dep.id).status_description == (
        "Deployment marked as failed - rolling back to job version 0"
    )


async def test_manual_health(cluster: Cluster) -> None:
    update = {"MaxParallel": 1, "HealthCheck": "manual"}
    await cluster.server.job_register(job(count=1, update=update))
    await cluster.settle()
    await cluster.report(cluster.live(), healthy=None)
    dep = cluster.deployment()
    other = cluster.live()[0]
    with pytest.raises(RequestError, match="at least one"):
        await cluster.server.deployment_alloc_health(dep.id, [], [])
    await cluster.server.deployment_alloc_health(dep.id, [other.id], [])
    await cluster.settle()
    assert cluster.deployment().status == "successful"
    with pytest.raises(
        RequestError, match=r"^can't set health of allocations for a terminal deployment$"
    ):
        await cluster.server.deployment_alloc_health(dep.id, [other.id], [])
