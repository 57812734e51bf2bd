"""The watcher follows leadership; ``max_parallel = 0`` means no deployment at all."""

from __future__ import annotations

import asyncio

from .conftest import Cluster, job, version


async def test_max_parallel_zero_replaces_everything_without_a_deployment(
    cluster: Cluster,
) -> None:
    update = {"MaxParallel": 0}
    await cluster.server.job_register(job(count=3, update=update))
    await cluster.settle()
    assert cluster.deployment() is None
    await cluster.server.job_register(job(count=3, image="redis:4.0", update=update))
    await cluster.settle()
    live = cluster.live()
    assert len(live) == 3 and {version(a) for a in live} == {1}
    assert cluster.deployment() is None


async def test_watcher_runs_only_while_leader(cluster: Cluster) -> None:
    observers = cluster.server.consensus.observers
    await cluster.server.job_register(job(count=1))
    await cluster.settle()
    for observer in observers:
        await observer(False)
    assert not cluster.watcher.running
    await cluster.report(cluster.live(), healthy=True)
    await asyncio.sleep(0.1)
    assert cluster.deployment().status == "running"
    for observer in observers:
        await observer(True)
    await cluster.settle()
    assert cluster.deployment().status == "successful"


async def test_one_evaluation_per_batch_of_newly_healthy_allocations(cluster: Cluster) -> None:
    await cluster.server.job_register(job(count=2))
    await cluster.settle()
    first, second = cluster.live()

    def watcher_evals() -> list:
        return [e for e in cluster.state.evals() if e.triggered_by == "deployment-watcher"]

    await cluster.report([first], healthy=True)
    assert len(watcher_evals()) == 1
    assert watcher_evals()[0].deployment_id == cluster.deployment().id
    await asyncio.sleep(0.2)  # several passes of the watcher: nothing new, no new evaluation
    assert len(watcher_evals()) == 1
    await cluster.report([second], healthy=True)
    # The last one completes the deployment: the scheduler has nothing left to place.
    assert cluster.deployment().status == "successful"
    assert len(watcher_evals()) == 1
