"""Demo 3 of the walkthrough (canary with manual promotion), auto-promotion and blue/green."""

from __future__ import annotations

import pytest

from caravan.server import RequestError

from .conftest import Cluster, job, undecided, version

CANARY = {"MaxParallel": 1, "Canary": 1, "MinHealthyTime": 10_000_000_000}


async def _v1(cluster: Cluster, update: dict) -> None:
    await cluster.server.job_register(job(count=3, image="bootcamp:v1", update=update))
    await cluster.settle()
    await cluster.report(cluster.live(), healthy=True)
    assert cluster.deployment().status == "successful"


async def test_demo3_canary_waits_for_manual_promotion(cluster: Cluster) -> None:
    await _v1(cluster, CANARY)
    await cluster.server.job_register(job(count=3, image="bootcamp:v2", update=CANARY))
    await cluster.settle()
    live = cluster.live()
    assert len(live) == 4
    canaries = [a for a in live if version(a) == 1]
    assert len(canaries) == 1 and canaries[0].deployment_status.canary is True
    dep = cluster.deployment()
    assert dep.status_description == "Deployment is running but requires manual promotion"
    assert dep.task_groups["cache"].desired_canaries == 1

    with pytest.raises(RequestError, match="is not healthy"):
        await cluster.server.deployment_promote(dep.id, all=True, groups=[])
    await cluster.report(canaries, healthy=True)
    dep = cluster.deployment()
    # Healthy canaries are not enough: a person decides.
    assert dep.status == "running" and not dep.task_groups["cache"].promoted
    assert len(cluster.live()) == 4

    reply = await cluster.server.deployment_promote(dep.id, all=True, groups=[])
    assert reply["EvalID"]
    await cluster.settle()
    assert cluster.deployment().status_description == "Deployment is running"
    for _ in range(2):
        fresh = undecided(cluster.live())
        assert len(fresh) == 1
        await cluster.report(fresh, healthy=True)
    live = cluster.live()
    assert len(live) == 3 and {version(a) for a in live} == {1}
    assert canaries[0].id in {a.id for a in live}
    old = [a for a in cluster.allocs() if version(a) == 0]
    assert all(a.desired_status == "stop" for a in old)
    done = cluster.deployment()
    assert (done.status, done.task_groups["cache"].promoted) == ("successful", True)
    assert cluster.job().version == 1 and cluster.job().stable is True


async def test_auto_promote_when_canaries_are_healthy(cluster: Cluster) -> None:
    update = {**CANARY, "AutoPromote": True}
    await _v1(cluster, update)
    await cluster.server.job_register(job(count=3, image="bootcamp:v2", update=update))
    await cluster.settle()
    dep = cluster.deployment()
    assert dep.status_description == "Deployment is running pending automatic promotion"
    canary = [a for a in cluster.live() if version(a) == 1]
    await cluster.report(canary, healthy=True)
    assert cluster.deployment().task_groups["cache"].promoted is True
    while cluster.deployment().status == "running":
        fresh = undecided(cluster.live())
        assert len(fresh) == 1
        await cluster.report(fresh, healthy=True)
    assert cluster.deployment().status == "successful"
    assert {version(a) for a in cluster.live()} == {1} and len(cluster.live()) == 3


async def test_blue_green_places_a_full_second_set(cluster: Cluster) -> None:
    update = {"MaxParallel": 3, "Canary": 3}
    await _v1(cluster, update)
    await cluster.server.job_register(job(count=3, image="bootcamp:v2", update=update))
    await cluster.settle()
    live = cluster.live()
    assert len(live) == 6
    green = [a for a in live if version(a) == 1]
    assert len(green) == 3
    await cluster.report(green, healthy=True)
    dep = cluster.deployment()
    await cluster.server.deployment_promote(dep.id, all=False, groups=["cache"])
    await cluster.settle()
    live = cluster.live()
    assert {a.id for a in live} == {a.id for a in green}
    assert cluster.deployment().status == "successful"


async def test_promote_refusals_use_nomads_words(cluster: Cluster) -> None:
    await _v1(cluster, CANARY)
    done = cluster.deployment()
    with pytest.raises(RequestError, match=r"^can't promote terminal deployment$"):
        await cluster.server.deployment_promote(done.id, all=True, groups=[])
    with pytest.raises(RequestError, match=r"^can't fail terminal deployment$"):
        await cluster.server.deployment_fail(done.id)
    with pytest.raises(RequestError, match=r"^can't pause terminal deployment$"):
        await cluster.server.deployment_pause(done.id, True)
    # A rolling deployment without canaries has nothing to promote.
    await cluster.server.job_register(job(count=3, image="bootcamp:v2"))
    await cluster.settle()
    with pytest.raises(RequestError, match=r"^no canaries to promote$"):
        await cluster.server.deployment_promote(cluster.deployment().id, all=True, groups=[])
