"""Deployment health of one allocation, as its client decides it.

An allocation that belongs to a deployment reports ``DeploymentStatus{Healthy, Timestamp}``
once, through ``alloc_client_update``. :class:`AllocHealthTracker` decides when, following
the group's ``update`` block:

- ``health_check = "task_states"``: every watched task (main tasks and sidecars) has been
  running, without restarting, for ``min_healthy_time``;
- ``health_check = "checks"`` (the default): the same, and every service check of the group
  is ``passing`` for that whole time (a check whose ``on_update`` is ``ignore_warnings``
  may be ``warning``; one with ``ignore`` does not count);
- ``health_check = "manual"``: never decided here; an operator sets it with
  ``caravan deployment`` (``/v1/deployment/allocation-health``).

A task that fails (dead and failed) makes the allocation unhealthy at once; not being
healthy by ``healthy_deadline`` after the allocation started makes it unhealthy then.

How the client wires it (one tracker per allocation with a ``DeploymentID``, created when
its tasks start, dropped once a verdict was reported or the deployment ID changes)::

    tracker = AllocHealthTracker.for_group(group.update, started_at=now_ns(),
                                           watched_tasks=..., checks={name: on_update})
    # on every task state change and every CheckRunner result:
    verdict = tracker.update(now_ns(), task_states=..., check_statuses=...)
    if verdict.decided:
        report {"DeploymentStatus": {"Healthy": verdict.healthy,
                                     "Timestamp": <verdict.at as RFC 3339>}}
    elif verdict.recheck_at:
        call update() again at verdict.recheck_at (min_healthy_time or deadline reached)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from caravan.client.checks.probes import PASSING, WARNING

HEALTH_CHECKS = "checks"
HEALTH_TASK_STATES = "task_states"
HEALTH_MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class HealthVerdict:
    """``healthy`` is ``None`` while undecided; ``at`` (Unix ns) is when it was decided;
    ``recheck_at`` (Unix ns, 0 for never) is when the verdict may change without any new
    observation; ``reason`` says why, for logs and task events."""

    healthy: bool | None
    at: int = 0
    recheck_at: int = 0
    reason: str = ""

    @property
    def decided(self) -> bool:
        return self.healthy is not None


class AllocHealthTracker:
    """Decides one allocation's deployment health from what its client observes.

    :param mode: ``checks``, ``task_states`` or ``manual``.
    :param min_healthy_time: nanoseconds everything must stay healthy.
    :param healthy_deadline: nanoseconds after ``started_at`` by which it must be healthy.
    :param started_at: when the allocation started (Unix ns).
    :param watched_tasks: tasks that must be running (main tasks and sidecars); other tasks
        only must not fail.
    :param checks: ``{check name: on_update}`` of every service check of the group
        (``require_healthy``, ``ignore_warnings`` or ``ignore``).
    """

    def __init__(
        self,
        mode: str,
        min_healthy_time: int,
        healthy_deadline: int,
        started_at: int,
        watched_tasks: Iterable[str],
        checks: Mapping[str, str] | None = None,
    ) -> None:
        self.mode = mode or HEALTH_CHECKS
        self.min_healthy_time = min_healthy_time
        self.deadline = started_at + healthy_deadline if healthy_deadline else 0
        self.watched = frozenset(watched_tasks)
        self.checks = dict(checks or {}) if self.mode == HEALTH_CHECKS else {}
        self._healthy_since = 0
        self._restarts: dict[str, int] = {}
        self._verdict = HealthVerdict(None)

    @classmethod
    def for_group(
        cls,
        update: Any,
        started_at: int,
        watched_tasks: Iterable[str],
        checks: Mapping[str, str] | None = None,
    ) -> AllocHealthTracker:
        """A tracker configured from a group's canonical ``update`` block."""
        return cls(
            update.health_check or HEALTH_CHECKS,
            update.min_healthy_time or 0,
            update.healthy_deadline or 0,
            started_at,
            watched_tasks,
            checks,
        )

    @property
    def verdict(self) -> HealthVerdict:
        """The latest verdict (a decided one never changes)."""
        return self._verdict

    def _tasks(self, states: Mapping[str, Any]) -> tuple[bool, str]:
        """(all watched running and none failed, why not); a failure raises the verdict."""
        ok, why = True, ""
        for name, st in states.items():
            if st.state == "dead" and st.failed:
                raise _Failed(f"task {name!r} failed")
            restarted = st.restarts > self._restarts.get(name, st.restarts)
            self._restarts[name] = st.restarts
            if restarted:
                self._healthy_since = 0
            if name in self.watched and st.state != "running":
                ok, why = False, f"task {name!r} is {st.state}"
        missing = self.watched - set(states)
        if missing:
            ok, why = False, f"task {sorted(missing)[0]!r} has not started"
        return ok, why

    def _checks(self, statuses: Mapping[str, str]) -> tuple[bool, str]:
        for name, on_update in self.checks.items():
            if on_update == "ignore":
                continue
            status = statuses.get(name, "")
            if status == PASSING or (status == WARNING and on_update == "ignore_warnings"):
                continue
            return False, f"check {name!r} is {status or 'not run yet'}"
        return True, ""

    def update(
        self,
        now: int,
        task_states: Mapping[str, Any] | None = None,
        check_statuses: Mapping[str, str] | None = None,
    ) -> HealthVerdict:
        """Take the latest observations and return the verdict at ``now``.

        :param task_states: ``{task name: TaskState}`` (``state``, ``failed``, ``restarts``).
        :param check_statuses: ``{check name: passing|warning|critical}``.
        """
        if self._verdict.decided or self.mode == HEALTH_MANUAL:
            return self._verdict
        try:
            ok, why = self._tasks(task_states or {})
        except _Failed as failed:
            self._verdict = HealthVerdict(False, now, 0, str(failed))
            return self._verdict
        if ok:
            ok, why = self._checks(check_statuses or {})
        if not ok:
            self._healthy_since = 0
        elif not self._healthy_since:
            self._healthy_since = now
        if ok and now - self._healthy_since >= self.min_healthy_time:
            self._verdict = HealthVerdict(True, now, 0, "healthy")
        elif self.deadline and now >= self.deadline:
            reason = why or "not healthy for min_healthy_time"
            self._verdict = HealthVerdict(False, now, 0, f"healthy_deadline passed: {reason}")
        else:
            ready = self._healthy_since + self.min_healthy_time if ok else 0
            recheck = min((t for t in (ready, self.deadline) if t), default=0)
            self._verdict = HealthVerdict(None, 0, recheck, why or "waiting for min_healthy_time")
        return self._verdict


class _Failed(Exception):
    """A watched task failed: the allocation is unhealthy."""
