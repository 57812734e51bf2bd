"""The client's allocation health tracker: checks, task states, manual, deadlines."""

from __future__ import annotations

from caravan.client.checks import AllocHealthTracker
from caravan.structs import TaskState, UpdateStrategy

S = 1_000_000_000


def _update(mode: str = "checks") -> UpdateStrategy:
    return UpdateStrategy(health_check=mode, min_healthy_time=10 * S, healthy_deadline=60 * S)


def running(restarts: int = 0) -> dict[str, TaskState]:
    return {"web": TaskState(state="running", restarts=restarts)}


def test_task_states_healthy_after_min_healthy_time() -> None:
    t = AllocHealthTracker.for_group(_update("task_states"), 0, ["web"])
    assert t.update(1 * S, {"web": TaskState(state="pending")}).healthy is None
    first = t.update(2 * S, running())
    assert first.healthy is None and first.recheck_at == 12 * S
    assert t.update(11 * S, running()).healthy is None
    verdict = t.update(12 * S, running())
    assert (verdict.healthy, verdict.at) == (True, 12 * S)
    # Decided once: later observations do not change it.
    assert t.update(13 * S, {"web": TaskState(state="dead", failed=True)}).healthy is True


def test_a_restart_starts_min_healthy_time_again() -> None:
    t = AllocHealthTracker.for_group(_update("task_states"), 0, ["web"])
    t.update(1 * S, running())
    assert t.update(8 * S, running(restarts=1)).healthy is None
    assert t.update(12 * S, running(restarts=1)).healthy is None
    assert t.update(18 * S, running(restarts=1)).healthy is True


def test_failed_task_is_unhealthy_at_once() -> None:
    t = AllocHealthTracker.for_group(_update("task_states"), 0, ["web"])
    verdict = t.update(3 * S, {"web": TaskState(state="dead", failed=True)})
    assert (verdict.healthy, verdict.at) == (False, 3 * S)
    assert "failed" in verdict.reason


def test_checks_must_pass_for_min_healthy_time() -> None:
    checks = {"http": "require_healthy", "tcp": "ignore_warnings", "noisy": "ignore"}
    t = AllocHealthTracker.for_group(_update(), 0, ["web"], checks)
    statuses = {"http": "passing", "tcp": "warning", "noisy": "critical"}
    assert t.update(1 * S, running(), {"http": "critical", "tcp": "passing"}).healthy is None
    assert "check 'http' is critical" in t.verdict.reason
    assert t.update(2 * S, running(), statuses).healthy is None
    assert t.update(5 * S, running(), {**statuses, "http": "warning"}).healthy is None
    assert t.update(6 * S, running(), statuses).healthy is None
    assert t.update(16 * S, running(), statuses).healthy is True


def test_healthy_deadline_makes_it_unhealthy() -> None:
    t = AllocHealthTracker.for_group(_update(), 0, ["web"], {"http": "require_healthy"})
    assert t.update(30 * S, running(), {"http": "critical"}).recheck_at == 60 * S
    verdict = t.update(60 * S, running(), {"http": "critical"})
    assert verdict.healthy is False and "healthy_deadline" in verdict.reason


def test_manual_never_decides() -> None:
    t = AllocHealthTracker.for_group(_update("manual"), 0, ["web"])
    assert t.update(600 * S, running()).healthy is None
