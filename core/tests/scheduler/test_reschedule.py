"""Reschedule delays and attempts, per the group's reschedule policy."""

from __future__ import annotations

import pytest

from caravan.scheduler.reschedule import next_delay, reschedule_decision

from . import models as m

S = 1_000_000_000
T0 = 1_000_000 * S


def failed_alloc(delays: list[int], fail_at: int = T0, spacing: int = 60 * S) -> m.Allocation:
    """A failed allocation whose earlier reschedules happened with ``delays``."""
    events = [
        m.RescheduleEvent(reschedule_time=fail_at - (len(delays) - i) * spacing, delay=d)
        for i, d in enumerate(delays)
    ]
    tracker = m.RescheduleTracker(events=events) if events else None
    return m.Allocation(
        id="a", client_status="failed", modify_time=fail_at, reschedule_tracker=tracker
    )


def policy(fn: str, delay: int = 5 * S, max_delay: int = 60 * S, **kw) -> m.ReschedulePolicy:
    return m.ReschedulePolicy(delay_function=fn, delay=delay, max_delay=max_delay, **kw)


def series(fn: str, n: int, **kw) -> list[int]:
    """The first ``n`` delays a policy produces when every reschedule fails again."""
    p = policy(fn, **kw)
    delays: list[int] = []
    for _ in range(n):
        delays.append(next_delay(p, failed_alloc(delays, spacing=S)))
    return [d // S for d in delays]


def test_constant() -> None:
    assert series("constant", 5) == [5, 5, 5, 5, 5]


def test_exponential_capped_at_max_delay() -> None:
    assert series("exponential", 6) == [5, 10, 20, 40, 60, 60]


def test_fibonacci_capped_at_max_delay() -> None:
    assert series("fibonacci", 8) == [5, 5, 10, 15, 25, 40, 60, 60]


def test_capped_delay_resets_after_a_quiet_period() -> None:
    p = policy("exponential")
    # last reschedule long before this failure: the series starts over
    alloc = failed_alloc([40 * S, 60 * S], spacing=3600 * S)
    assert next_delay(p, alloc) == 5 * S


def test_attempts_within_interval() -> None:
    p = policy("constant", attempts=2, interval=3600 * S, unlimited=False)
    assert reschedule_decision(p, failed_alloc([])).eligible
    assert reschedule_decision(p, failed_alloc([5 * S])).eligible
    assert not reschedule_decision(p, failed_alloc([5 * S, 5 * S])).eligible
    # attempts older than the interval no longer count
    old = failed_alloc([5 * S, 5 * S], spacing=7200 * S)
    assert reschedule_decision(p, old).eligible


def test_no_attempts_means_never() -> None:
    p = policy("constant", attempts=0, unlimited=False)
    assert not reschedule_decision(p, failed_alloc([])).eligible


def test_unlimited_is_always_eligible() -> None:
    p = policy("exponential", unlimited=True)
    assert reschedule_decision(p, failed_alloc([S] * 50)).eligible


@pytest.mark.parametrize(("now_offset", "due"), [(0, False), (4 * S, True), (10 * S, True)])
def test_now_or_later(now_offset: int, due: bool) -> None:
    decision = reschedule_decision(policy("constant"), failed_alloc([]))
    assert decision.at == T0 + 5 * S
    assert decision.now(T0 + now_offset) is due


def test_only_failed_running_allocs_are_rescheduled() -> None:
    p = policy("constant")
    assert not reschedule_decision(p, m.Allocation(id="x", client_status="complete")).eligible
    stopped = failed_alloc([]).model_copy(update={"desired_status": "stop"})
    assert not reschedule_decision(p, stopped).eligible
    assert not reschedule_decision(None, failed_alloc([])).eligible
