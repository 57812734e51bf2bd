"""One isolated task: its executor process, its cgroup, and how to watch, stop and clean it.

The driver's child is the executor (see :mod:`.executor`), which exits the way the task's
program did, so a task started by this driver object gets its exit status from ``wait()``.
A task recovered after a client restart is not this process's child: its exit is noticed by
polling ``/proc`` and its exit code cannot be known, though an OOM kill still can, from the
cgroup. Every process of the task is in its cgroup, which is what stop and destroy empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

from caravan_plugins import CpuStats, ExitResult, MemoryStats, TaskConfig, TaskResourceUsage
from caravan_plugins.process import cpu_mhz, is_same_process, read_stat

from .cgroups import TaskCgroup
from .chroot import remove_mount_points

RECOVERED_POLL_INTERVAL = 0.2
SIGNAL_EXIT_BASE = 128
# How long destroy waits for killed processes to leave the cgroup before giving up on it.
EMPTY_CGROUP_PATIENCE = 5.0

UNKNOWN_EXIT = (
    "the task was reattached after a client restart, so its exit code could not be collected"
)


class IsolatedTask:
    """A running or exited task; build it with :meth:`from_child` or :meth:`from_recovered`.

    Both begin watching for the exit at once, so :meth:`wait` may be called any number of
    times, before or after the task ends.
    """

    def __init__(
        self,
        config: TaskConfig,
        pid: int,
        start_time: int,
        started_at: datetime,
        cgroup: TaskCgroup,
        chroot_env: dict[str, str],
    ) -> None:
        self.config = config
        self.pid = pid
        self.start_time = start_time
        self.started_at = started_at
        self.cgroup = cgroup
        self.chroot_env = chroot_env
        self.completed_at: datetime | None = None
        self._exited: asyncio.Future[ExitResult] = asyncio.get_running_loop().create_future()
        self._watcher: asyncio.Task[None] | None = None
        self._last_sample: tuple[float, int] | None = None

    @classmethod
    def from_child(
        cls,
        config: TaskConfig,
        process: asyncio.subprocess.Process,
        cgroup: TaskCgroup,
        chroot_env: dict[str, str],
    ) -> IsolatedTask:
        """Track an executor this driver just started."""
        stat = read_stat(process.pid)
        start_time = stat.start_time if stat is not None else 0
        task = cls(config, process.pid, start_time, datetime.now(UTC), cgroup, chroot_env)
        task._watcher = asyncio.create_task(task._watch_child(process))
        return task

    @classmethod
    def from_recovered(
        cls,
        config: TaskConfig,
        pid: int,
        start_time: int,
        started_at: datetime,
        cgroup: TaskCgroup,
        chroot_env: dict[str, str],
    ) -> IsolatedTask:
        """Track a task started by an earlier driver instance; the caller checked it runs."""
        task = cls(config, pid, start_time, started_at, cgroup, chroot_env)
        task._watcher = asyncio.create_task(task._watch_recovered())
        return task

    @property
    def exited(self) -> bool:
        """True once the executor (and so the task's program) has exited."""
        return self._exited.done()

    @property
    def exit_result(self) -> ExitResult | None:
        """How the task ended, or None while it runs."""
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> ExitResult:
        """Wait for the task to exit; cancelling a waiter does not affect others."""
        return await asyncio.shield(self._exited)

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the executor, which forwards it to the program."""
        if not self.exited and is_same_process(self.pid, self.start_time):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL every process of the task and its executor."""
        self.cgroup.kill_all()
        self.signal(signal.SIGKILL)

    async def stop(self, timeout: float, signum: int) -> None:
        """Send ``signum``, wait up to ``timeout`` seconds, then SIGKILL whatever remains.

        Returns once the task has exited and no process of it is left.
        """
        if not self.exited:
            self.signal(signum)
            try:
                await asyncio.wait_for(self.wait(), timeout)
            except TimeoutError:
                self.kill()
                await self.wait()
        await self._empty_cgroup()

    async def release(self) -> None:
        """Kill what is left, remove the cgroup and the chroot's mount points, stop
        watching. Safe to call on an exited task."""
        self.kill()
        await self._empty_cgroup()
        with contextlib.suppress(OSError):
            self.cgroup.remove()
        remove_mount_points(Path(self.config.task_dir), self.chroot_env)
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    def usage(self) -> TaskResourceUsage:
        """One sample read from the cgroup; CPU percent since the previous sample (since the
        start for the first), where 100 is one core fully busy."""
        sample = self.cgroup.usage()
        now = time.monotonic()
        if self._last_sample is None:
            elapsed = (datetime.now(UTC) - self.started_at).total_seconds()
            delta = sample.cpu_ns
        else:
            elapsed, delta = now - self._last_sample[0], sample.cpu_ns - self._last_sample[1]
        self._last_sample = (now, sample.cpu_ns)
        percent = max(0.0, delta / 1e9 / elapsed * 100) if elapsed > 0 else 0.0
        busy = sample.user_ns + sample.system_ns
        return TaskResourceUsage(
            cpu=CpuStats(
                percent=percent,
                total_ticks=percent / 100 * cpu_mhz(),
                user_mode=percent * sample.user_ns / busy if busy else 0.0,
                system_mode=percent * sample.system_ns / busy if busy else 0.0,
                measured=["Percent", "Total Ticks", "User Mode", "System Mode"],
            ),
            memory=MemoryStats(
                rss=sample.rss,
                usage=sample.usage,
                cache=sample.cache,
                swap=sample.swap,
                max_usage=sample.max_usage,
                measured=["RSS", "Cache", "Swap", "Usage", "Max Usage"],
            ),
            timestamp=datetime.now(UTC),
        )

    async def _empty_cgroup(self) -> None:
        deadline = time.monotonic() + EMPTY_CGROUP_PATIENCE
        while self.cgroup.pids() and time.monotonic() < deadline:
            self.cgroup.kill_all()
            await asyncio.sleep(0.02)

    async def _watch_child(self, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        oom = self.cgroup.oom_killed()
        if code < 0:
            self._finish(
                ExitResult(exit_code=SIGNAL_EXIT_BASE - code, signal=-code, oom_killed=oom)
            )
        else:
            self._finish(ExitResult(exit_code=code, oom_killed=oom))

    async def _watch_recovered(self) -> None:
        while is_same_process(self.pid, self.start_time):
            await asyncio.sleep(RECOVERED_POLL_INTERVAL)
        oom = self.cgroup.oom_killed()
        self._finish(ExitResult(exit_code=0, oom_killed=oom, err=UNKNOWN_EXIT))

    def _finish(self, result: ExitResult) -> None:
        self.completed_at = datetime.now(UTC)
        self._exited.set_result(result)
