"""The reconciler through the generic scheduler: updates, scaling, canaries, lost and failed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from caravan.scheduler.harness import Harness

from . import models as m
from .conftest import NOW, cluster, make_job, make_node, run

S = 1_000_000_000


def live(h: Harness, job_id: str = "web") -> list[m.Allocation]:
    return h.live_allocs("default", job_id)


def bump(job: m.Job, **changes: Any) -> m.Job:
    """The next version of ``job`` with group fields (``count``...) or task fields changed."""
    tg = job.task_groups[0]
    task_changes = changes.pop("task", {})
    task = tg.tasks[0].model_copy(update=task_changes)
    tg = tg.model_copy(update={**changes, "tasks": [task]})
    return job.model_copy(
        update={
            "task_groups": [tg],
            "version": job.version + 1,
            "job_modify_index": job.job_modify_index + 1,
        }
    )


def set_running(h: Harness, healthy: bool | None = None) -> None:
    """What clients report: pending allocations run; with ``healthy``, each allocation of a
    deployment without a verdict gets one. That includes a running allocation an in-place
    update moved into a newer deployment: its client reports its health again."""
    for alloc in list(h.alloc_table.values()):
        if alloc.desired_status != "run":
            continue
        unjudged = bool(alloc.deployment_id) and (
            alloc.deployment_status is None or alloc.deployment_status.healthy is None
        )
        if alloc.client_status == "pending" or (
            healthy is not None and alloc.client_status == "running" and unjudged
        ):
            update: dict[str, Any] = {"client_status": "running"}
            if healthy is not None:
                status = alloc.deployment_status or m.AllocDeploymentStatus()
                update["deployment_status"] = status.model_copy(update={"healthy": healthy})
            h.upsert_alloc(alloc.model_copy(update=update))


def test_names_fill_lowest_free_indexes() -> None:
    h = cluster(3)
    job = make_job(count=5)
    h.upsert_job(job)
    run(h, job)
    small = bump(job, count=2)
    h.upsert_job(small)
    run(h, small)
    assert sorted(a.name for a in live(h)) == ["web.g[0]", "web.g[1]"]
    stopped = [a for a in h.alloc_table.values() if a.desired_status == "stop"]
    assert {a.desired_description for a in stopped} == {"alloc not needed due to job update"}
    big = bump(small, count=4)
    h.upsert_job(big)
    run(h, big)
    assert sorted(a.name for a in live(h)) == [f"web.g[{i}]" for i in range(4)]


def test_count_and_meta_changes_update_in_place() -> None:
    h = cluster(3)
    job = make_job(count=2)
    h.upsert_job(job)
    run(h, job)
    before = {a.id for a in live(h)}
    newer = bump(job, count=2, meta={"owner": "team-a"}, task={"meta": {"x": "y"}})
    h.upsert_job(newer)
    ev = run(h, newer)
    assert {a.id for a in live(h)} == before
    assert {a.job.version for a in live(h)} == {1}
    assert ev.status == "complete"


def test_destructive_update_respects_max_parallel() -> None:
    h = cluster(4)
    job = make_job(count=6, group={"update": m.UpdateStrategy(max_parallel=2)})
    h.upsert_job(job)
    run(h, job)
    set_running(h, healthy=True)
    v1 = bump(job, task={"config": {"image": "v2"}})
    h.upsert_job(v1)
    run(h, v1)
    versions = sorted(a.job.version for a in live(h))
    assert versions == [0, 0, 0, 0, 1, 1]
    updated = [a for a in h.alloc_table.values() if a.desired_status == "stop"]
    assert {a.desired_description for a in updated} == {"alloc is being updated due to job update"}
    new = [a for a in live(h) if a.job.version == 1]
    assert {a.previous_allocation for a in new} == {a.id for a in updated}
    assert {a.name for a in new} == {a.name for a in updated}
    (deployment,) = [d for d in h.deployments.values() if d.job_version == 1]
    assert all(a.deployment_id == deployment.id for a in new)

    # nothing more happens while the new allocations are not healthy
    set_running(h)
    run(h, v1, triggered_by="deployment-watcher")
    assert sorted(a.job.version for a in live(h)) == [0, 0, 0, 0, 1, 1]

    for alloc in new:
        h.upsert_alloc(
            h.alloc_table[alloc.id].model_copy(
                update={"deployment_status": m.AllocDeploymentStatus(healthy=True)}
            )
        )
    run(h, v1, triggered_by="deployment-watcher")
    assert sorted(a.job.version for a in live(h)) == [0, 0, 1, 1, 1, 1]


def test_no_update_stanza_replaces_everything_at_once() -> None:
    h = cluster(2)
    job = make_job(count=4)
    h.upsert_job(job)
    run(h, job)
    v1 = bump(job, task={"env": {"A": "1"}})
    h.upsert_job(v1)
    run(h, v1)
    assert sorted(a.job.version for a in live(h)) == [1, 1, 1, 1]
    assert h.deployments == {}


def test_canaries_first_then_promotion() -> None:
    h = cluster(4)
    upd = m.UpdateStrategy(max_parallel=1, canary=1)
    job = make_job(count=3, group={"update": upd})
    h.upsert_job(job)
    run(h, job)
    set_running(h, healthy=True)
    v1 = bump(job, task={"config": {"image": "v2"}})
    h.upsert_job(v1)
    run(h, v1)
    allocs = live(h)
    assert len(allocs) == 4  # count + canary
    (canary,) = [a for a in allocs if a.job.version == 1]
    assert canary.deployment_status.canary
    (deployment,) = [d for d in h.deployments.values() if d.job_version == 1]
    assert deployment.task_groups["g"].desired_canaries == 1
    assert deployment.status_description == "Deployment is running but requires manual promotion"

    # unpromoted: old allocations stay, no second canary
    set_running(h, healthy=True)
    run(h, v1, triggered_by="deployment-watcher")
    assert len(live(h)) == 4

    promoted = deployment.model_copy(
        update={"task_groups": {"g": m.DeploymentState(promoted=True, desired_canaries=1)}}
    )
    h.upsert_deployment(promoted)
    run(h, v1, triggered_by="deployment-watcher")
    allocs = live(h)
    assert len(allocs) == 3
    names = [a.name for a in allocs]
    assert len(set(names)) == 3
    assert sum(a.job.version == 1 for a in allocs) == 2  # canary + one rolled (max_parallel 1)


def test_canaries_stay_canaries_when_no_old_allocation_is_left() -> None:
    def is_canary(alloc: m.Allocation) -> bool:
        return bool(alloc.deployment_status and alloc.deployment_status.canary)

    # Both old allocations fail during the canary phase and are rescheduled with the new
    # version: until promotion the canary still stands outside the count (no regular
    # allocation is stopped to make room for it), and a lost canary is replaced by a canary.
    h = cluster(4)
    upd = m.UpdateStrategy(max_parallel=1, canary=1)
    policy = m.ReschedulePolicy(delay=0, delay_function="constant", unlimited=True)
    job = make_job(count=2, group={"update": upd, "reschedule_policy": policy})
    h.upsert_job(job)
    run(h, job)
    set_running(h, healthy=True)
    v1 = bump(job, task={"config": {"image": "v2"}})
    h.upsert_job(v1)
    run(h, v1)
    (canary,) = [a for a in live(h) if a.job.version == 1]
    for old in [a for a in live(h) if a.job.version == 0]:
        h.upsert_alloc(old.model_copy(update={"client_status": "failed"}))
    run(h, v1, triggered_by="alloc-failure")
    allocs = live(h)
    regular = sorted(a.name for a in allocs if not is_canary(a))
    assert regular == ["web.g[0]", "web.g[1]"]
    assert [a.id for a in allocs if is_canary(a)] == [canary.id]
    assert not [
        a
        for a in h.alloc_table.values()
        if a.desired_description == "alloc not needed due to job update"
    ]

    node = h.node_by_id(canary.node_id)
    h.upsert_node(node.model_copy(update={"status": "down"}))
    run(h, v1, triggered_by="node-update")
    (replacement,) = [a for a in live(h) if a.previous_allocation == canary.id]
    assert is_canary(replacement)
    assert sorted(a.name for a in live(h) if not is_canary(a)) == regular


def test_new_version_cancels_the_old_deployment() -> None:
    h = cluster(2)
    job = make_job(count=2, group={"update": m.UpdateStrategy(max_parallel=1)})
    h.upsert_job(job)
    run(h, job)
    v1 = bump(job, task={"config": {"image": "v2"}})
    h.upsert_job(v1)
    run(h, v1)
    v2 = bump(v1, task={"config": {"image": "v3"}})
    h.upsert_job(v2)
    run(h, v2)
    statuses = sorted((d.job_version, d.status) for d in h.deployments.values())
    assert statuses[-2:] == [(1, "cancelled"), (2, "running")]
    cancelled = [d for d in h.deployments.values() if d.status == "cancelled"]
    assert cancelled[0].status_description == "Cancelled due to newer version of job"


def test_lost_allocations_are_replaced() -> None:
    h = cluster(3)
    job = make_job(count=3, constraints=[m.Constraint(operand="distinct_hosts")])
    h.upsert_job(job)
    run(h, job)
    h.upsert_node(make_node("spare"))
    victim = live(h)[0]
    h.upsert_node(make_node(victim.node_id, status="down"))
    run(h, job, triggered_by="node-update")
    lost = h.alloc_table[victim.id]
    assert lost.desired_status == "stop"
    assert lost.client_status == "lost"
    assert lost.desired_description == "alloc is lost since its node is down"
    (replacement,) = [a for a in live(h) if a.previous_allocation == victim.id]
    assert replacement.name == victim.name
    assert replacement.node_id == "spare"


def test_draining_node_migrates_at_migrate_max_parallel() -> None:
    h = Harness()
    h.upsert_node(make_node("old"))
    job = make_job(count=3, group={"migrate": m.MigrateStrategy(max_parallel=2)})
    h.upsert_job(job)
    run(h, job)
    h.upsert_node(make_node("new"))
    h.upsert_node(make_node("old", drain_strategy={"Deadline": 3600}))
    run(h, job, triggered_by="node-drain")
    migrated = [a for a in h.alloc_table.values() if a.desired_status == "stop"]
    assert len(migrated) == 2
    assert {a.desired_description for a in migrated} == {"alloc is being migrated"}
    assert sorted(a.node_id for a in live(h)) == ["new", "new", "old"]
    run(h, job, triggered_by="node-drain")
    assert sorted(a.node_id for a in live(h)) == ["new", "new", "new"]


def test_batch_complete_allocs_are_not_replaced() -> None:
    h = cluster(2)
    job = make_job(count=2, type="batch")
    h.upsert_job(job)
    run(h, job)
    for alloc in live(h):
        h.upsert_alloc(alloc.model_copy(update={"client_status": "complete"}))
    ev = run(h, job, triggered_by="alloc-stop")
    assert live(h) == []
    assert len(h.alloc_table) == 2
    assert ev.status == "complete"


def test_failed_alloc_rescheduled_later_then_now() -> None:
    h = cluster(3)
    policy = m.ReschedulePolicy(delay=30 * S, delay_function="constant", unlimited=True)
    job = make_job(count=1, group={"reschedule_policy": policy})
    h.upsert_job(job)
    run(h, job)
    (first,) = live(h)
    h.upsert_alloc(first.model_copy(update={"client_status": "failed", "modify_time": NOW}))

    run(h, job, now=NOW + 10 * S, triggered_by="alloc-failure")
    (follow_up,) = h.created_evals
    assert follow_up.triggered_by == "failed-follow-up"
    assert follow_up.wait_until == datetime.fromtimestamp((NOW + 30 * S) / S, UTC)
    assert h.alloc_table[first.id].followup_eval_id == follow_up.id
    assert len(h.alloc_table) == 1  # nothing placed yet, no duplicate follow-ups
    run(h, job, now=NOW + 11 * S, triggered_by="alloc-failure")
    assert len(h.created_evals) == 1

    run(h, job, now=NOW + 30 * S, triggered_by="failed-follow-up")
    (replacement,) = live(h)
    assert replacement.previous_allocation == first.id
    assert replacement.name == first.name
    assert replacement.node_id != first.node_id  # the reschedule penalty avoids the old node
    (event,) = replacement.reschedule_tracker.events
    assert event.prev_alloc_id == first.id
    assert event.delay == 30 * S
    assert h.alloc_table[first.id].desired_description == "alloc was rescheduled because it failed"


def test_failed_alloc_past_its_attempts_is_left_alone() -> None:
    h = cluster(2)
    policy = m.ReschedulePolicy(attempts=0, unlimited=False)
    job = make_job(count=1, type="batch", group={"reschedule_policy": policy})
    h.upsert_job(job)
    run(h, job)
    (first,) = live(h)
    h.upsert_alloc(first.model_copy(update={"client_status": "failed"}))
    run(h, job, triggered_by="alloc-failure")
    assert len(h.alloc_table) == 1
    assert h.created_evals == []


def test_destructive_update_that_fits_nowhere_keeps_the_old_alloc() -> None:
    h = cluster(1, cpu=1000)
    job = make_job(count=1, cpu=600)
    h.upsert_job(job)
    run(h, job)
    (old,) = live(h)
    bigger = bump(job, task={"resources": m.Resources(cpu=1200, memory_mb=256)})
    h.upsert_job(bigger)
    ev = run(h, bigger)
    assert [a.id for a in live(h)] == [old.id]
    assert ev.failed_tg_allocs["g"].dimension_exhausted == {"cpu": 1}
    assert ev.queued_allocations == {"g": 1}


def test_destructive_update_reuses_the_room_of_the_alloc_it_replaces() -> None:
    h = cluster(1, cpu=1000)
    job = make_job(count=1, cpu=600)
    h.upsert_job(job)
    run(h, job)
    bigger = bump(job, task={"resources": m.Resources(cpu=900, memory_mb=256)})
    h.upsert_job(bigger)
    ev = run(h, bigger)
    (new,) = live(h)
    assert new.job.version == 1
    assert ev.failed_tg_allocs is None


def test_desired_updates_summarise_the_plan() -> None:
    from caravan.scheduler.reconcile import reconcile

    h = cluster(2)
    job = make_job(count=4, group={"update": m.UpdateStrategy(max_parallel=2)})
    h.upsert_job(job)
    run(h, job)
    set_running(h, healthy=True)
    v1 = bump(job, count=5, task={"config": {"image": "v2"}})
    allocs = h.allocs_by_job("default", "web")
    result = reconcile("web", v1, allocs, {}, None, NOW, batch=False)
    summary = result.desired_updates["g"].to_api()
    assert summary == {
        "Ignore": 2,
        "Place": 1,
        "Migrate": 0,
        "Stop": 0,
        "InPlaceUpdate": 0,
        "DestructiveUpdate": 2,
        "Canary": 0,
        "Preemptions": 0,
    }
    assert result.new_deployment["g"].desired_total == 5
    assert [p.name for p in result.place] == ["web.g[4]"]
