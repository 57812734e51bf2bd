"""Restart policy decisions, with Nomad's reasons, on an injected clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from caravan.client.restarts import NOT_RESTARTING, RESTART, TERMINATED, RestartTracker
from caravan.structs.durations import MINUTE, SECOND
from caravan.structs.policies import RestartPolicy
from caravan_plugins import ExitResult

FAILED = ExitResult(exit_code=1)
OK = ExitResult(exit_code=0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tracker(attempts=2, interval=30 * MINUTE, delay=15 * SECOND, mode="fail", job="service"):
    clock = Clock()
    policy = RestartPolicy(attempts=attempts, interval=interval, delay=delay, mode=mode)
    return RestartTracker(policy, job, clock=clock, rng=lambda: 0.0), clock


def test_within_policy_then_fail() -> None:
    t, _ = tracker()
    first, second, third = (t.on_exit(FAILED) for _ in range(3))
    assert (first.action, first.delay_ns, first.reason) == (
        RESTART,
        15 * SECOND,
        "Restart within policy",
    )
    assert second.action == RESTART
    assert third.action == NOT_RESTARTING
    assert third.reason == 'Exceeded allowed attempts 2 in interval 30m0s and mode is "fail"'


def test_interval_resets_the_count() -> None:
    t, clock = tracker(attempts=1)
    assert t.on_exit(FAILED).action == RESTART
    clock.now += 31 * 60
    assert t.on_exit(FAILED).action == RESTART


def test_delay_mode_waits_out_the_interval() -> None:
    t, clock = tracker(attempts=1, interval=10 * MINUTE, mode="delay")
    t.on_exit(FAILED)
    clock.now += 60
    decision = t.on_exit(FAILED)
    assert decision.action == RESTART
    assert decision.reason == "Exceeded allowed attempts, applying a delay"
    assert decision.delay_ns == 9 * MINUTE


def test_no_attempts() -> None:
    t, _ = tracker(attempts=0)
    decision = t.on_exit(FAILED)
    assert (decision.action, decision.reason) == (NOT_RESTARTING, "Policy allows no restarts")


def test_batch_success_terminates_service_success_restarts() -> None:
    batch, _ = tracker(job="batch")
    assert batch.on_exit(OK).action == TERMINATED
    service, _ = tracker(job="service")
    assert service.on_exit(OK).action == RESTART


def test_unrecoverable_start_error() -> None:
    t, _ = tracker()
    assert t.on_start_error(recoverable=False).reason == "Error was unrecoverable"


@given(st.integers(1, 10**12), st.floats(0, 0.999))
def test_jitter_bounds(delay: int, r: float) -> None:
    policy = RestartPolicy(attempts=5, interval=MINUTE, delay=delay, mode="fail")
    decision = RestartTracker(policy, "service", clock=Clock(), rng=lambda: r).on_exit(FAILED)
    assert delay <= decision.delay_ns <= delay * 1.25
