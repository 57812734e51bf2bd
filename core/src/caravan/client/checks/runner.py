"""Running a check every ``interval`` and keeping its recent history.

:class:`CheckRunner` runs one probe (see :mod:`~caravan.client.checks.probes`) on a timer,
applies ``success_before_passing`` and ``failures_before_critical`` (a status only changes
after that many consecutive results), keeps the last results for ``alloc status`` and hands
every result to a callback: that is where the client feeds the allocation health tracker
and the ``check_restart`` tracker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

from caravan.client.checks.probes import CRITICAL, PASSING, CheckResult, Probe, probe_for


class CheckRunner:
    """Runs one check until stopped.

    :param name: the check's name (its key in the allocation's check statuses).
    :param probe: runs the check once.
    :param interval: seconds between the end of one run and the start of the next.
    :param on_result: called with ``(name, result)`` after every run, with the status
        already smoothed by the thresholds below.
    :param initial_status: the status before the first run (Nomad's ``initial_status``;
        ``critical`` when empty, so a new check never counts as healthy).
    :param success_before_passing: consecutive passing runs needed to turn ``passing``.
    :param failures_before_critical: consecutive critical runs needed to turn ``critical``.
    :param history: how many results to keep.
    """

    def __init__(
        self,
        name: str,
        probe: Probe,
        interval: float,
        on_result: Callable[[str, CheckResult], None] | None = None,
        *,
        initial_status: str = "",
        success_before_passing: int = 0,
        failures_before_critical: int = 0,
        history: int = 10,
    ) -> None:
        self.name = name
        self.probe = probe
        self.interval = interval
        self.on_result = on_result
        self.status = initial_status or CRITICAL
        self.success_before_passing = success_before_passing
        self.failures_before_critical = failures_before_critical
        self.history: deque[CheckResult] = deque(maxlen=history)
        self._streak_status = ""
        self._streak = 0
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_check(
        cls,
        check: Any,
        on_result: Callable[[str, CheckResult], None] | None = None,
        **target: Any,
    ) -> CheckRunner:
        """A runner for a job's ``check`` block; ``target`` is passed to
        :func:`~caravan.client.checks.probes.probe_for` (address, port, driver, task_id)."""
        return cls(
            check.name,
            probe_for(check, **target),
            (check.interval or 0) / 1e9 or 10.0,
            on_result,
            initial_status=check.initial_status,
            success_before_passing=check.success_before_passing,
            failures_before_critical=check.failures_before_critical,
        )

    def _smooth(self, raw: str) -> str:
        if raw == self._streak_status:
            self._streak += 1
        else:
            self._streak_status, self._streak = raw, 1
        if raw == PASSING and self._streak < self.success_before_passing:
            return self.status
        if raw == CRITICAL and self._streak < self.failures_before_critical:
            return self.status
        return raw

    async def run_once(self) -> CheckResult:
        """Run the check now; returns the (smoothed) result, also recorded and reported."""
        raw = await self.probe()
        self.status = self._smooth(raw.status)
        result = CheckResult(self.status, raw.output, raw.timestamp)
        self.history.append(result)
        if self.on_result is not None:
            self.on_result(self.name, result)
        return result

    async def run(self) -> None:
        """Run every ``interval`` until cancelled."""
        while True:
            await self.run_once()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        """Start :meth:`run` in the background (on the running loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        """Stop the background run and wait for it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
