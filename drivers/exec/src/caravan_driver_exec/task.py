"""One isolated task: its executor process, its cgroup, and how to stop and clean it.

The driver's child is the executor (see :mod:`.executor`), which exits the way the task's
program did, so the exit is watched as for every host-process task (see
:mod:`caravan_plugins.process_tasks`). What differs is where the task's processes are:
every one of them is in the task's cgroup, which is what stop and destroy empty, what
stats read, and what tells whether the kernel killed the task for its memory. The executor
records the program's wait status in the task's exit file before it exits, so a task that
ended while the agent was down (or after it reattached) reports its real exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from caravan_plugins import CpuStats, ExitResult, MemoryStats, TaskConfig, TaskResourceUsage
from caravan_plugins.process import cpu_mhz, is_same_process
from caravan_plugins.process_tasks import HostProcessTask, exit_result_of

from .cgroups import TaskCgroup, task_cgroup
from .chroot import remove_mount_points
from .executor import read_exit

# How long destroy waits for killed processes to leave the cgroup before giving up on it.
EMPTY_CGROUP_PATIENCE = 5.0


class IsolatedTask(HostProcessTask):
    """A running or exited task: its executor, its cgroup and the ``chroot_env`` its
    mount points were made from."""

    def __init__(
        self,
        config: TaskConfig,
        pid: int,
        start_time: int,
        started_at: datetime,
        cgroup: TaskCgroup,
        chroot_env: dict[str, str],
        exit_file: str = "",
    ) -> None:
        super().__init__(config, pid, start_time, started_at)
        self.cgroup = cgroup
        self.chroot_env = chroot_env
        self.exit_file = exit_file

    def handle_state(self) -> dict[str, Any]:
        """The executor's pid and start time, the cgroup and chroot to clean up, and where
        the executor records the exit."""
        return {
            **super().handle_state(),
            "cgroup": self.cgroup.name,
            "cgroup_version": self.cgroup.version,
            "chroot_env": self.chroot_env,
            "exit_file": self.exit_file,
        }

    @classmethod
    def restore_state(cls, state: dict[str, Any]) -> dict[str, Any]:
        """The cgroup, ``chroot_env`` and exit file recorded by :meth:`handle_state`
        (handles written before exit files existed have none)."""
        return {
            "cgroup": task_cgroup(str(state["cgroup"]), int(state["cgroup_version"])),
            "chroot_env": dict(state["chroot_env"]),
            "exit_file": str(state.get("exit_file") or ""),
        }

    def recorded_exit(self) -> ExitResult | None:
        """The program's exit as the executor recorded it, if it did."""
        status = read_exit(self.exit_file) if self.exit_file else None
        if status is None:
            return None
        return exit_result_of(os.waitstatus_to_exitcode(status))

    def attributes(self) -> dict[str, str]:
        """The executor's pid and the cgroup's name."""
        return {**super().attributes(), "cgroup": self.cgroup.name}

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the executor, which forwards it to the program."""
        if not self.exited and is_same_process(self.pid, self.start_time):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL every process of the task and its executor."""
        self.cgroup.kill_all()
        self.signal(signal.SIGKILL)

    async def kill_leftovers(self) -> None:
        """Kill what is left in the cgroup until it is empty (or its patience runs out)."""
        deadline = time.monotonic() + EMPTY_CGROUP_PATIENCE
        while self.cgroup.pids() and time.monotonic() < deadline:
            self.cgroup.kill_all()
            await asyncio.sleep(0.02)

    async def release(self) -> None:
        """Kill what is left, remove the cgroup and the chroot's mount points, stop
        watching. Safe to call on an exited task."""
        self.kill()
        await self.kill_leftovers()
        with contextlib.suppress(OSError):
            self.cgroup.remove()
        if self.exit_file:
            Path(self.exit_file).unlink(missing_ok=True)
        remove_mount_points(Path(self.config.task_dir), self.chroot_env)
        await self.close()

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

    def annotate_exit(self, result: ExitResult) -> ExitResult:
        """Whether the kernel killed the task for exceeding its memory limit."""
        return result.model_copy(update={"oom_killed": self.cgroup.oom_killed()})
