"""The restart tracker: after a task exits, decide whether to restart it and when.

Follows Nomad's ``RestartTracker``: restarts are counted within the policy's ``interval``
(the count resets once the interval has passed since the first counted restart); within
``attempts`` a restart waits ``delay`` plus up to 25 % jitter; past it, mode ``fail`` stops
restarting and mode ``delay`` waits until the interval is over. A task of a ``service`` or
``system`` job is restarted even after a successful exit; ``batch`` and ``sysbatch`` tasks
that exit 0 are done.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from caravan.structs.consts import RESTART_MODE_FAIL
from caravan.structs.durations import SECOND, format_duration
from caravan.structs.policies import RestartPolicy
from caravan_plugins import ExitResult

from .events import REASON_WITHIN_POLICY

JITTER = 0.25
REASON_NO_RESTARTS = "Policy allows no restarts"
REASON_UNRECOVERABLE = "Error was unrecoverable"
REASON_DELAY = "Exceeded allowed attempts, applying a delay"
REASON_SUCCESS = "Restart unnecessary as task terminated successfully"

#: What the tracker decided: restart after ``delay_ns``, stop (``dead``, not failed), or
#: give up (``dead``, failed).
RESTART = "restart"
TERMINATED = "terminated"
NOT_RESTARTING = "not_restarting"


@dataclass(frozen=True)
class Decision:
    """The outcome for one exit: ``action`` (:data:`RESTART`, :data:`TERMINATED`,
    :data:`NOT_RESTARTING`), the delay before a restart, and Nomad's reason string."""

    action: str
    delay_ns: int = 0
    reason: str = ""


class RestartTracker:
    """Counts a task's restarts against its ``restart`` policy.

    :param policy: the task's merged restart policy (durations in nanoseconds).
    :param job_type: the job's type; decides whether a successful exit restarts.
    :param clock: seconds, monotonic; injected so tests need not wait.
    :param rng: ``random.random``-like, for the jitter.
    """

    def __init__(
        self,
        policy: RestartPolicy | None,
        job_type: str,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        policy = policy or RestartPolicy()
        self.attempts = policy.attempts if policy.attempts is not None else 2
        self.interval_ns = policy.interval if policy.interval is not None else 1800 * SECOND
        self.delay_ns = policy.delay if policy.delay is not None else 15 * SECOND
        self.mode = policy.mode or RESTART_MODE_FAIL
        self.restart_on_success = job_type not in ("batch", "sysbatch")
        self._clock = clock
        self._rng = rng
        self._count = 0
        self._interval_start = clock()

    @property
    def count(self) -> int:
        """Restarts counted in the current interval."""
        return self._count

    def snapshot(self, now_wall: float | None = None) -> dict[str, float]:
        """What :meth:`restore` needs to carry the count over an agent restart: the count
        and when its interval began, in wall-clock seconds (the monotonic clock does not
        survive a restart of the process)."""
        wall = time.time() if now_wall is None else now_wall
        return {
            "count": self._count,
            "interval_start": wall - (self._clock() - self._interval_start),
        }

    def restore(self, snapshot: dict[str, float], now_wall: float | None = None) -> None:
        """Continue counting from a :meth:`snapshot` an earlier agent took, so a task that
        keeps failing does not get fresh attempts because its agent restarted.

        :raises KeyError, TypeError, ValueError: ``snapshot`` is not one.
        """
        wall = time.time() if now_wall is None else now_wall
        count, started = int(snapshot["count"]), float(snapshot["interval_start"])
        self._count = count
        self._interval_start = self._clock() - max(0.0, wall - started)

    def on_exit(self, result: ExitResult) -> Decision:
        """Decide what follows a task exiting with ``result``."""
        return self._decide(result.successful, recoverable=True)

    def on_start_error(self, recoverable: bool) -> Decision:
        """Decide what follows a failed start; unrecoverable errors never restart."""
        return self._decide(False, recoverable=recoverable)

    def _decide(self, successful: bool, recoverable: bool) -> Decision:
        if self.attempts == 0:
            if successful and not self.restart_on_success:
                return Decision(TERMINATED, reason=REASON_NO_RESTARTS)
            return Decision(NOT_RESTARTING, reason=REASON_NO_RESTARTS)
        now = self._clock()
        if now > self._interval_start + self.interval_ns / SECOND:
            self._count = 0
            self._interval_start = now
        self._count += 1
        if not recoverable:
            return Decision(NOT_RESTARTING, reason=REASON_UNRECOVERABLE)
        if successful and not self.restart_on_success:
            return Decision(TERMINATED, reason=REASON_SUCCESS)
        if self._count > self.attempts:
            if self.mode == RESTART_MODE_FAIL:
                reason = (
                    f"Exceeded allowed attempts {self.attempts} in interval "
                    f'{format_duration(self.interval_ns)} and mode is "fail"'
                )
                return Decision(NOT_RESTARTING, reason=reason)
            end = self._interval_start + self.interval_ns / SECOND
            return Decision(RESTART, int(max(0.0, end - now) * SECOND), REASON_DELAY)
        jitter = int(self.delay_ns * JITTER * self._rng())
        return Decision(RESTART, self.delay_ns + jitter, REASON_WITHIN_POLICY)
