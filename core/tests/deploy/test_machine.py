"""The pure deployment state machine, one transition at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from caravan.deploy import assess, rollback, running_description
from caravan.structs import (
    Allocation,
    AllocDeploymentStatus,
    Deployment,
    DeploymentState,
    Job,
    canonicalize,
)

S = 1_000_000_000
T0 = 1_700_000_000 * S


def _job(version: int = 1, image: str = "v2", stable: bool = False, **extra: Any) -> Job:
    job = canonicalize(
        Job.from_api(
            {
                "ID": "web",
                "TaskGroups": [
                    {
                        "Name": "g",
                        "Count": 2,
                        "Tasks": [{"Name": "t", "Driver": "mock", "Config": {"image": image}}],
                    }
                ],
                **extra,
            }
        )
    )
    return job.model_copy(update={"version": version, "stable": stable})


def _dep(status: str = "running", **group: Any) -> Deployment:
    state = {"desired_total": 2, "progress_deadline": 0, **group}
    return Deployment(
        id="d1",
        namespace="default",
        job_id="web",
        job_version=1,
        status=status,
        status_description="Deployment is running",
        task_groups={"g": DeploymentState(**state)},
    )


def _alloc(
    n: int, healthy: bool | None, at: int = T0, canary: bool = False, **extra: Any
) -> Allocation:
    stamp = datetime.fromtimestamp((at + S) / S, UTC) if healthy is not None else None
    return Allocation(
        id=f"a{n}",
        name=f"web.g[{n}]",
        job_id="web",
        task_group="g",
        deployment_id="d1",
        desired_status="run",
        client_status="running",
        create_time=at,
        deployment_status=AllocDeploymentStatus(healthy=healthy, timestamp=stamp, canary=canary),
        **extra,
    )


def test_all_healthy_is_successful() -> None:
    out = assess(_dep(), _job(), [_alloc(0, True), _alloc(1, True)], T0)
    assert (out.status, out.description) == ("successful", "Deployment completed successfully")
    assert out.groups["g"].healthy == 2 and out.healthy == {"a0", "a1"}


def test_still_waiting_changes_nothing() -> None:
    out = assess(_dep(), _job(), [_alloc(0, True), _alloc(1, None)], T0)
    assert out.status is None and not out.promote


def test_an_allocation_that_failed_after_being_healthy_no_longer_counts() -> None:
    dead = _alloc(1, True).model_copy(update={"client_status": "failed"})
    assert assess(_dep(), _job(), [_alloc(0, True), dead], T0).status is None


def test_unhealthy_without_progress_deadline_fails() -> None:
    out = assess(_dep(), _job(), [_alloc(0, False)], T0)
    assert (out.status, out.description) == ("failed", "Failed due to unhealthy allocations")
    assert out.revert_job is None


def test_unhealthy_with_progress_deadline_waits_for_the_deadline() -> None:
    dep = _dep(progress_deadline=60 * S)
    out = assess(dep, _job(), [_alloc(0, False)], T0 + 10 * S)
    assert out.status is None and out.wake_at == T0 + 60 * S
    late = assess(dep, _job(), [_alloc(0, False)], T0 + 60 * S)
    assert late.description == "Failed due to progress deadline"


def test_healthy_allocations_push_the_deadline() -> None:
    dep = _dep(progress_deadline=60 * S)
    allocs = [_alloc(0, True, at=T0 + 30 * S), _alloc(1, None)]
    out = assess(dep, _job(), allocs, T0 + 70 * S)
    assert out.status is None
    assert out.groups["g"].require_progress_by == T0 + 31 * S + 60 * S


def test_cancelled_when_job_stopped_or_superseded() -> None:
    stopped = _job().model_copy(update={"stop": True})
    assert assess(_dep(), stopped, [], T0).description == "Cancelled because job is stopped"
    assert assess(_dep(), None, [], T0).status == "cancelled"
    newer = assess(_dep(), _job(version=2), [], T0)
    assert (newer.status, newer.description) == (
        "cancelled",
        "Cancelled due to newer version of job",
    )


def test_paused_and_terminal_deployments_do_not_move() -> None:
    assert assess(_dep("paused"), _job(), [_alloc(0, False)], T0).status is None
    assert assess(_dep("successful"), None, [], T0).status is None


def test_canaries_wait_for_promotion_then_count() -> None:
    dep = _dep(desired_canaries=1, placed_canaries=["a0"])
    out = assess(dep, _job(), [_alloc(0, True, canary=True)], T0)
    assert out.status is None and not out.promote
    assert out.groups["g"].awaiting_promotion and out.groups["g"].canaries_healthy
    promoted = _dep(desired_canaries=1, placed_canaries=["a0"], promoted=True)
    allocs = [_alloc(0, True, canary=True), _alloc(1, True)]
    assert assess(promoted, _job(), allocs, T0).status == "successful"


def test_auto_promote_once_every_canary_is_healthy() -> None:
    dep = _dep(desired_canaries=2, placed_canaries=["a0", "a1"], auto_promote=True)
    half = assess(dep, _job(), [_alloc(0, True, canary=True), _alloc(1, None, canary=True)], T0)
    assert not half.promote
    both = [_alloc(0, True, canary=True), _alloc(1, True, canary=True)]
    assert assess(dep, _job(), both, T0).promote


def test_waiting_for_manual_promotion_with_healthy_canaries_survives_the_deadline() -> None:
    dep = _dep(desired_canaries=1, placed_canaries=["a0"], progress_deadline=60 * S)
    out = assess(dep, _job(), [_alloc(0, True, canary=True)], T0 + 3600 * S)
    assert out.status is None


def test_running_descriptions() -> None:
    assert running_description(_dep()) == "Deployment is running"
    manual = _dep(desired_canaries=1)
    assert running_description(manual) == "Deployment is running but requires manual promotion"
    auto = _dep(desired_canaries=1, auto_promote=True)
    assert running_description(auto) == "Deployment is running pending automatic promotion"


def test_rollback_descriptions() -> None:
    current = _job(version=2, image="broken")
    stable = _job(version=0, image="v1", stable=True)
    text, job = rollback("Failed due to unhealthy allocations", current, [stable, current])
    assert text == "Failed due to unhealthy allocations - rolling back to job version 0"
    assert job.task_groups[0].tasks[0].config["image"] == "v1" and job.stable is False
    same = _job(version=1, image="broken", stable=True)
    text, job = rollback("Failed due to progress deadline", current, [same, current])
    assert text == (
        "Failed due to progress deadline - not rolling back to stable job version 1 "
        "as current job has same specification"
    )
    assert job is None
    text, job = rollback("Deployment marked as failed", current, [current])
    assert text == "Deployment marked as failed - no stable job version to auto revert to"


def test_auto_revert_on_failure() -> None:
    dep = _dep(auto_revert=True)
    stable = _job(version=0, image="v1", stable=True)
    out = assess(dep, _job(), [_alloc(0, False)], T0, versions=[stable, _job()])
    assert out.description.endswith("rolling back to job version 0")
    assert out.revert_job is not None and out.revert_job.version == 0
