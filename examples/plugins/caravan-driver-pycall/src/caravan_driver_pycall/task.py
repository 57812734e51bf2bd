"""One pycall task: an interpreter started in its own session, and how to watch and end it.

A task started by this driver object is its child, so its exit status comes from
``wait()``. A task recovered after a client restart is not (its parent was the previous
agent process): its exit is noticed by polling ``/proc`` and its exit code cannot be known.
Signals go to the whole process group, so subprocesses the callable started stop with it,
and only while ``/proc`` shows the leader's recorded start time, so a recycled pid never
receives a signal meant for an old task.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from datetime import UTC, datetime

from caravan_plugins import CpuStats, ExitResult, MemoryStats, TaskConfig, TaskResourceUsage
from caravan_plugins.process import (
    CLOCK_TICKS,
    cpu_mhz,
    is_same_process,
    read_stat,
    seconds_since_boot,
    session_members,
)

# How often a recovered task (not our child) is checked for exit, in seconds.
RECOVERED_POLL_INTERVAL = 0.2
# A task killed by signal N reports exit code 128 + N, as shells and Nomad do.
SIGNAL_EXIT_BASE = 128

UNKNOWN_EXIT = "the task was reattached after a client restart, so its exit code is unknown"


class PycallTask:
    """A running or exited pycall task.

    Build it with :meth:`from_child` or :meth:`from_recovered`; both start watching for the
    exit at once, so :meth:`wait` may be called any number of times, before or after it ends.
    """

    def __init__(self, config: TaskConfig, pid: int, start_time: int, started_at: datetime) -> None:
        self.config = config
        self.pid = pid
        self.start_time = start_time
        self.started_at = started_at
        self.completed_at: datetime | None = None
        self._exited: asyncio.Future[ExitResult] = asyncio.get_running_loop().create_future()
        self._watcher: asyncio.Task[None] | None = None
        self._last_sample: tuple[float, int] | None = None

    @classmethod
    def from_child(cls, config: TaskConfig, process: asyncio.subprocess.Process) -> PycallTask:
        """Track an interpreter this driver just started with ``start_new_session=True``."""
        stat = read_stat(process.pid)
        task = cls(config, process.pid, stat.start_time if stat else 0, datetime.now(UTC))
        task._watcher = asyncio.create_task(task._watch_child(process))
        return task

    @classmethod
    def from_recovered(
        cls, config: TaskConfig, pid: int, start_time: int, started_at: datetime
    ) -> PycallTask:
        """Track a task an earlier driver instance started; the caller checked it runs."""
        task = cls(config, pid, start_time, started_at)
        task._watcher = asyncio.create_task(task._watch_recovered())
        return task

    @property
    def exited(self) -> bool:
        """True once the interpreter has exited."""
        return self._exited.done()

    @property
    def exit_result(self) -> ExitResult | None:
        """How the task ended, or None while it runs."""
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> ExitResult:
        """Wait for the exit; cancelling one waiter does not affect the others."""
        return await asyncio.shield(self._exited)

    def signal(self, signum: int) -> None:
        """Send ``signum`` to every process of the task; a no-op once nothing is left."""
        if self.exited or is_same_process(self.pid, self.start_time):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)

    async def stop(self, timeout: float, signum: int) -> None:
        """Send ``signum``, wait up to ``timeout`` seconds, then SIGKILL what remains.

        Returns once the interpreter has exited and nothing it started is left.
        """
        if not self.exited:
            self.signal(signum)
            try:
                await asyncio.wait_for(self.wait(), timeout)
            except TimeoutError:
                self.signal(signal.SIGKILL)
                await self.wait()
        for _ in range(50):
            if not session_members(self.pid):
                return
            self.signal(signal.SIGKILL)
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        """Stop watching the task (the driver forgets it)."""
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    def usage(self) -> TaskResourceUsage:
        """CPU and RSS summed over every process of the task.

        CPU percent is measured since the previous sample, or since the start for the first;
        100 means one core fully busy.
        """
        members = [] if self.exited else session_members(self.pid)
        ticks = sum(m.utime + m.stime for m in members)
        now = time.monotonic()
        if self._last_sample is None:
            elapsed, delta = seconds_since_boot() - self.start_time / CLOCK_TICKS, ticks
        else:
            elapsed, delta = now - self._last_sample[0], ticks - self._last_sample[1]
        self._last_sample = (now, ticks)
        percent = max(0.0, delta / CLOCK_TICKS / elapsed * 100) if elapsed > 0 else 0.0
        rss = sum(m.rss for m in members)
        return TaskResourceUsage(
            cpu=CpuStats(
                percent=percent,
                total_ticks=percent / 100 * cpu_mhz(),
                measured=["Percent", "Total Ticks"],
            ),
            memory=MemoryStats(rss=rss, usage=rss, measured=["RSS"]),
            timestamp=datetime.now(UTC),
        )

    async def _watch_child(self, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        if code < 0:
            self._finish(ExitResult(exit_code=SIGNAL_EXIT_BASE - code, signal=-code))
        else:
            self._finish(ExitResult(exit_code=code))

    async def _watch_recovered(self) -> None:
        while is_same_process(self.pid, self.start_time):
            await asyncio.sleep(RECOVERED_POLL_INTERVAL)
        self._finish(ExitResult(exit_code=0, err=UNKNOWN_EXIT))

    def _finish(self, result: ExitResult) -> None:
        self.completed_at = datetime.now(UTC)
        self._exited.set_result(result)
