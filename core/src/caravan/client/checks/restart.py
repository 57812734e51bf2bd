"""``check_restart``: when failing checks should restart their task.

Nomad's rule: results during ``grace`` after the task (re)started are ignored; after that,
a check that stays unhealthy (``critical``, or ``warning`` unless ``ignore_warnings``) for
``limit`` consecutive runs (``interval * (limit - 1)`` after the first unhealthy one)
restarts the task. Any healthy result starts the count again. ``limit = 0`` disables it.
"""

from __future__ import annotations

from caravan.client.checks.probes import CRITICAL, WARNING


class CheckRestartTracker:
    """Decides, result by result, whether a task must restart. Time is injected (Unix ns).

    :param limit: unhealthy runs in a row before a restart; 0 never restarts.
    :param grace: nanoseconds after a (re)start during which results are ignored.
    :param interval: the check's interval in nanoseconds.
    :param ignore_warnings: treat ``warning`` as healthy.
    """

    def __init__(self, limit: int, grace: int, interval: int, ignore_warnings: bool) -> None:
        self.limit = limit
        self.grace = grace
        self.interval = interval
        self.ignore_warnings = ignore_warnings
        self._grace_until = 0
        self._unhealthy_since = 0

    def task_started(self, now: int) -> None:
        """The task (re)started at ``now``: the grace period begins, the count resets."""
        self._grace_until = now + self.grace
        self._unhealthy_since = 0

    def observe(self, status: str, now: int) -> bool:
        """Record one check result; ``True`` means restart the task now (the tracker then
        waits for :meth:`task_started`)."""
        unhealthy = status == CRITICAL or (status == WARNING and not self.ignore_warnings)
        if not unhealthy or self.limit <= 0:
            self._unhealthy_since = 0
            return False
        if now < self._grace_until:
            return False
        if not self._unhealthy_since:
            self._unhealthy_since = now
        if now - self._unhealthy_since < self.interval * (self.limit - 1):
            return False
        self._unhealthy_since = 0
        self._grace_until = now + self.grace
        return True
