"""One task of a driver that runs host processes: watching it, ending it, measuring it.

Drivers such as ``raw_exec``, ``exec`` and ``pycall`` start a task as a process in a session
of its own and track it with a :class:`HostProcessTask`. A task started by the driver
object is its child, so the exit status comes from ``wait()``. A task recovered after a
client restart is not (its parent was the previous agent process): its exit is noticed
through a pidfd (:func:`~caravan_plugins.process.wait_for_exit`), and its exit code is
known only when something that outlives the agent recorded it — a driver whose tasks run
under a supervising process (``exec``'s executor) says so in :meth:`~HostProcessTask.
recorded_exit`; others report the exit as unknown.

By default signals go to the task's whole process group, so a shell script and everything
it started stop together, and only while ``/proc`` shows the leader's recorded start time,
so a recycled pid never receives a signal meant for an old task. A driver that keeps a task
somewhere else (a cgroup) overrides the few methods that say where its processes are.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from datetime import UTC, datetime
from typing import Any, Self

from .drivers import CpuStats, ExecResult, ExitResult, MemoryStats, TaskConfig, TaskResourceUsage
from .process import (
    CLOCK_TICKS,
    cpu_mhz,
    group_exists,
    is_same_process,
    read_stat,
    seconds_since_boot,
    session_members,
    wait_for_exit,
)

# A task killed by signal N reports exit code 128 + N, as shells and Nomad do.
SIGNAL_EXIT_BASE = 128
# How many times, 20 ms apart, leftovers of a session are killed before giving up on them.
LEFTOVER_KILL_ATTEMPTS = 50

UNKNOWN_EXIT = (
    "the task was reattached after a client restart, so its exit code could not be collected"
)


def exit_result_of(returncode: int) -> ExitResult:
    """The :class:`ExitResult` of a child whose ``returncode`` is as :mod:`asyncio` reports
    it (negative for the number of the signal that killed it)."""
    if returncode < 0:
        return ExitResult(exit_code=SIGNAL_EXIT_BASE - returncode, signal=-returncode)
    return ExitResult(exit_code=returncode)


async def collect_output(process: asyncio.subprocess.Process, timeout: float) -> ExecResult:
    """Wait for ``process`` (started with piped output in a session of its own) and return
    what it printed and how it ended.

    After ``timeout`` seconds its whole process group is killed; the result's ``err`` then
    says so and its exit code is that of SIGKILL.
    """
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = await process.communicate()
        killed = ExitResult(
            exit_code=SIGNAL_EXIT_BASE + signal.SIGKILL,
            signal=signal.SIGKILL,
            err=f"command timed out after {timeout:g}s",
        )
        return ExecResult(stdout=stdout, stderr=stderr, exit_result=killed)
    return ExecResult(
        stdout=stdout, stderr=stderr, exit_result=exit_result_of(process.returncode or 0)
    )


class HostProcessTask:
    """A running or exited task whose leader is a host process.

    Build it with :meth:`from_child` (just started) or :meth:`from_recovered` (reattached);
    both begin watching for the exit at once, so :meth:`wait` can be called any number of
    times, before or after the task ends. Keyword arguments of either are passed on to the
    constructor of a subclass that needs more (e.g. the task's cgroup).
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
    def from_child(
        cls, config: TaskConfig, process: asyncio.subprocess.Process, **extra: Any
    ) -> Self:
        """Track a process this driver just started with ``start_new_session=True``."""
        stat = read_stat(process.pid)
        start_time = stat.start_time if stat is not None else 0
        task = cls(config, process.pid, start_time, datetime.now(UTC), **extra)
        task._watcher = asyncio.create_task(task._watch_child(process))
        return task

    @classmethod
    def from_recovered(
        cls, config: TaskConfig, pid: int, start_time: int, started_at: datetime, **extra: Any
    ) -> Self:
        """Track a task started by an earlier driver instance; the caller checked it runs."""
        task = cls(config, pid, start_time, started_at, **extra)
        task._watcher = asyncio.create_task(task._watch_recovered())
        return task

    @classmethod
    def from_exited(
        cls, config: TaskConfig, pid: int, start_time: int, started_at: datetime, **extra: Any
    ) -> Self | None:
        """Track a task started by an earlier driver instance whose leader exited while no
        driver watched it, already exited with its :meth:`recorded_exit`.

        :returns: None when nothing recorded how it ended.
        """
        task = cls(config, pid, start_time, started_at, **extra)
        result = task.recorded_exit()
        if result is None:
            return None
        task._finish(task.annotate_exit(result))
        return task

    def recorded_exit(self) -> ExitResult | None:
        """How the task's leader ended, as recorded by a process that outlives the agent;
        None when nothing recorded it (as here: a plain host process has no supervisor)."""
        return None

    def handle_state(self) -> dict[str, Any]:
        """What the task handle's ``driver_state`` records to find this task again: the
        leader's pid and ``/proc`` start time, and when the task started."""
        return {
            "pid": self.pid,
            "start_time": self.start_time,
            "started_at": self.started_at.isoformat(),
        }

    @classmethod
    def restore_state(cls, state: dict[str, Any]) -> dict[str, Any]:
        """The constructor's extra keyword arguments, read back from a handle's
        ``driver_state`` (none here; a subclass adding to :meth:`handle_state` reads its
        additions back).

        :raises KeyError, TypeError, ValueError: the state lacks or garbles a value.
        """
        return {}

    def attributes(self) -> dict[str, str]:
        """The ``driver_attributes`` that ``inspect_task`` reports: the leader's pid."""
        return {"pid": str(self.pid)}

    @property
    def exited(self) -> bool:
        """True once the task's leader process has exited."""
        return self._exited.done()

    @property
    def exit_result(self) -> ExitResult | None:
        """How the task ended, or None while it runs."""
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> ExitResult:
        """Wait for the leader process to exit; cancelling a waiter does not affect others."""
        return await asyncio.shield(self._exited)

    def signal(self, signum: int) -> None:
        """Send ``signum`` to every process of the task; a no-op once nothing is left."""
        if self.exited or is_same_process(self.pid, self.start_time):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL every process of the task."""
        self.signal(signal.SIGKILL)

    async def stop(self, timeout: float, signum: int) -> None:
        """Send ``signum``, wait up to ``timeout`` seconds, then SIGKILL whatever remains.

        Returns once the leader has exited and no process of the task is left.
        """
        if not self.exited:
            self.signal(signum)
            try:
                await asyncio.wait_for(self.wait(), timeout)
            except TimeoutError:
                self.kill()
                await self.wait()
        await self.kill_leftovers()

    async def kill_leftovers(self) -> None:
        """SIGKILL processes the task forked that are still running after the leader exited
        (its process group: what :meth:`signal` reaches)."""
        for _ in range(LEFTOVER_KILL_ATTEMPTS):
            # Asking the kernel about the group is one call; scanning /proc for the session
            # would cost a read per process on the node, for each of a thousand tasks stopping.
            if not group_exists(self.pid):
                return
            self.signal(signal.SIGKILL)
            await asyncio.sleep(0.02)

    async def release(self) -> None:
        """Kill anything left of the task and stop watching it (the driver forgets it).
        Safe to call on an exited task."""
        await self.stop(0, signal.SIGKILL)
        await self.close()

    async def close(self) -> None:
        """Stop watching the task."""
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    def usage(self) -> TaskResourceUsage:
        """One resource-usage sample summed over every process of the task's session.

        CPU percent is measured since the previous sample (since the task started for the
        first one); 100 means one core fully busy.
        """
        members = [] if self.exited else session_members(self.pid)
        ticks = sum(m.utime + m.stime for m in members)
        user = sum(m.utime for m in members)
        system = sum(m.stime for m in members)
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
                user_mode=percent * user / ticks if ticks else 0.0,
                system_mode=percent * system / ticks if ticks else 0.0,
                measured=["Percent", "Total Ticks", "User Mode", "System Mode"],
            ),
            memory=MemoryStats(rss=rss, usage=rss, measured=["RSS"]),
            timestamp=datetime.now(UTC),
        )

    def annotate_exit(self, result: ExitResult) -> ExitResult:
        """Add what else is known about how the task ended (e.g. an OOM kill) to
        ``result``, once the leader has exited; as it is here."""
        return result

    async def _watch_child(self, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        self._finish(self.annotate_exit(exit_result_of(code)))

    async def _watch_recovered(self) -> None:
        await wait_for_exit(self.pid, self.start_time)
        result = self.recorded_exit() or ExitResult(exit_code=0, err=UNKNOWN_EXIT)
        self._finish(self.annotate_exit(result))

    def _finish(self, result: ExitResult) -> None:
        self.completed_at = datetime.now(UTC)
        self._exited.set_result(result)
