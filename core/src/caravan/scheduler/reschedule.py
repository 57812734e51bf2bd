"""When a failed allocation is rescheduled, per the group's ``reschedule`` policy.

Delays grow by the policy's ``delay_function``: ``constant`` (always ``delay``), ``exponential``
(the previous delay doubled) or ``fibonacci`` (the sum of the previous two), capped at
``max_delay``; once capped, a failure that comes more than ``max_delay`` after the previous
reschedule starts the series over at ``delay``. Unless ``unlimited``, only ``attempts``
reschedules are allowed within ``interval``. All times are Unix nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: A failure due within this window of "now" is rescheduled now rather than later.
RESCHEDULE_WINDOW_NS = 1_000_000_000
#: How many past reschedule events an unlimited policy keeps on the allocation.
MAX_PAST_EVENTS = 5


def _ns(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return int(value.timestamp() * 1_000_000_000)
    return int(value)


def fail_time(alloc: Any) -> int:
    """When ``alloc`` failed: its tasks' latest finish time, else its last modification."""
    latest = 0
    for state in (getattr(alloc, "task_states", None) or {}).values():
        latest = max(latest, _ns(state.finished_at))
    return latest or _ns(alloc.modify_time)


def _events(alloc: Any) -> list[Any]:
    tracker = alloc.reschedule_tracker
    return list(tracker.events or []) if tracker is not None else []


def next_delay(policy: Any, alloc: Any) -> int:
    """The delay before rescheduling ``alloc``, given its past reschedule events."""
    delay = policy.delay or 0
    events = _events(alloc)
    if not events:
        return delay
    fn = policy.delay_function or "constant"
    if fn == "exponential":
        delay = events[-1].delay * 2
    elif fn == "fibonacci":
        # delay, delay, 2*delay, 3*delay, 5*delay...
        if len(events) >= 2:
            last, before = events[-1].delay, events[-2].delay
            # A series that was just reset starts again from the base delay.
            delay = last if before == policy.max_delay and last == policy.delay else last + before
    else:
        return delay
    if policy.max_delay and delay > policy.max_delay:
        delay = policy.max_delay
        if fail_time(alloc) - events[-1].reschedule_time > delay:
            delay = policy.delay or 0
    return delay


def _attempts_left(policy: Any, alloc: Any, failed_at: int) -> bool:
    events = _events(alloc)
    if not events:
        return (policy.attempts or 0) > 0
    window_start = failed_at - (policy.interval or 0)
    recent = sum(1 for e in events if e.reschedule_time > window_start)
    return recent < (policy.attempts or 0)


@dataclass(frozen=True, slots=True)
class RescheduleDecision:
    """``eligible`` is whether a reschedule is allowed at all; ``at`` when (Unix ns)."""

    eligible: bool
    at: int
    delay: int

    def now(self, now: int) -> bool:
        """Whether the reschedule is due at ``now`` (within the reschedule window)."""
        return self.eligible and self.at <= now + RESCHEDULE_WINDOW_NS


def reschedule_decision(policy: Any | None, alloc: Any) -> RescheduleDecision:
    """Decide whether and when a failed ``alloc`` is rescheduled under ``policy``."""
    if policy is None or alloc.client_status != "failed" or alloc.desired_status != "run":
        return RescheduleDecision(False, 0, 0)
    failed_at = fail_time(alloc)
    delay = next_delay(policy, alloc)
    eligible = bool(policy.unlimited) or _attempts_left(policy, alloc, failed_at)
    return RescheduleDecision(eligible, failed_at + delay, delay)


def kept_events(policy: Any, alloc: Any, now: int) -> list[Any]:
    """The past reschedule events the replacement of ``alloc`` carries forward."""
    events = _events(alloc)
    if policy.unlimited:
        return events[-MAX_PAST_EVENTS:]
    window_start = now - (policy.interval or 0)
    return [e for e in events if e.reschedule_time > window_start]
