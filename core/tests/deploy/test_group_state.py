"""What a deployment's task group state and its allocations show while it runs: promoted
canaries lose their canary flag, and ``RequireProgressBy`` starts at the first placement and
moves with every allocation that turns healthy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .conftest import Cluster, job, version

CANARY = {"MaxParallel": 1, "Canary": 1, "MinHealthyTime": 10_000_000_000}
MINUTES_10 = timedelta(minutes=10)


async def test_promotion_turns_canaries_into_ordinary_allocations(cluster: Cluster) -> None:
    await cluster.server.job_register(job(count=2, image="bootcamp:v1", update=CANARY))
    await cluster.settle()
    await cluster.report(cluster.live(), healthy=True)
    await cluster.server.job_register(job(count=2, image="bootcamp:v2", update=CANARY))
    await cluster.settle()
    [canary] = [a for a in cluster.live() if version(a) == 1]
    await cluster.report([canary], healthy=True)
    before = cluster.state.alloc_by_id(canary.id)
    assert before.deployment_status.canary is True

    await cluster.server.deployment_promote(cluster.deployment().id, all=True, groups=[])
    await cluster.settle()
    after = cluster.state.alloc_by_id(canary.id)
    assert after.deployment_status.canary is False
    assert after.deployment_status.healthy is True
    assert after.alloc_modify_index > before.alloc_modify_index
    state = cluster.deployment().task_groups["cache"]
    assert state.promoted and state.placed_canaries == [canary.id]
    # The promoted canary took the place of one old allocation; the other is rolled next.
    live = cluster.live()
    assert len(live) == 2 and canary.id in {a.id for a in live}


async def test_require_progress_by_starts_at_placement_and_follows_health(
    cluster: Cluster,
) -> None:
    await cluster.server.job_register(job(count=2, update={"MaxParallel": 2}))
    await cluster.settle()
    first = cluster.deployment().task_groups["cache"]
    placed = [datetime.fromtimestamp(a.modify_time / 1e9, UTC) for a in cluster.live()]
    assert first.progress_deadline == MINUTES_10 // timedelta(microseconds=1) * 1000
    assert first.require_progress_by is not None
    assert abs(first.require_progress_by - (min(placed) + MINUTES_10)) < timedelta(seconds=1)

    cluster.clock.advance(120)
    await cluster.report(cluster.live()[:1], healthy=True)
    healthy_at = datetime.fromtimestamp(cluster.clock.now / 1e9, UTC)
    pushed = cluster.deployment().task_groups["cache"].require_progress_by
    assert abs(pushed - (healthy_at + MINUTES_10)) < timedelta(milliseconds=1)
