"""The ``raw_exec`` task driver: runs a command on the host, as the agent's user (or the
task's ``user`` when the agent is root), with no isolation.

Each task runs in a session of its own so that stopping it reaches everything it forked. The
handle persisted by the client records the leader's pid and its start time from ``/proc``;
after a client restart :meth:`RawExecDriver.recover_task` reattaches only if that same
process still runs. Like Nomad, the driver is off until the agent config enables it.
"""

from __future__ import annotations

import contextlib
import signal as signals
from datetime import datetime
from typing import ClassVar

from caravan_plugins import (
    Capabilities,
    DriverError,
    ExecResult,
    ExitResult,
    Fingerprint,
    TaskConfig,
    TaskDriver,
    TaskHandle,
    TaskNotFoundError,
    TaskResourceUsage,
    TaskStatus,
)
from caravan_plugins.drivers import HEALTHY_DESCRIPTION
from caravan_plugins.process import PROC, is_same_process
from caravan_plugins.signals import signal_number

from .config import RawExecConfig, RawExecTaskConfig
from .launch import resolve_command, run_in_task, spawn, working_dir
from .task import RawExecTask

HANDLE_VERSION = 1


class RawExecDriver(TaskDriver):
    """Runs tasks as plain host processes. Entry point ``raw_exec`` in ``caravan.drivers``."""

    name: ClassVar[str] = "raw_exec"
    config_schema = RawExecConfig
    task_config_schema = RawExecTaskConfig

    def __init__(self, config: RawExecConfig | None = None) -> None:
        super().__init__(config)
        self._tasks: dict[str, RawExecTask] = {}

    def capabilities(self) -> Capabilities:
        """Signals and exec are supported; no filesystem isolation; host or group network."""
        return Capabilities(
            send_signals=True,
            exec=True,
            fs_isolation="none",
            net_isolation_modes=["host", "group"],
            mount_configs="none",
        )

    async def fingerprint(self) -> Fingerprint:
        """``healthy`` with ``driver.raw_exec = "1"`` when enabled, else ``undetected``
        ("disabled"). raw_exec reads ``/proc``, so it is ``undetected`` where there is none."""
        if not self.config.enabled:
            return Fingerprint(health="undetected", health_description="disabled")
        if not PROC.joinpath("self", "stat").exists():
            return Fingerprint(
                health="undetected", health_description="raw_exec needs Linux's /proc"
            )
        return Fingerprint(
            health="healthy",
            health_description=HEALTHY_DESCRIPTION,
            attributes={"driver.raw_exec": "1"},
        )

    async def start_task(self, task: TaskConfig) -> TaskHandle:
        """Start ``config.command`` with the task's env, writing to its stdout/stderr files.

        :raises InvalidTaskConfigError: the ``config {}`` block does not fit the schema.
        :raises DriverError: the driver is disabled, the task id is taken, or the command
            could not be started (not found, not executable, missing work_dir).
        """
        if not self.config.enabled:
            raise DriverError('raw_exec is disabled: set enabled = true in plugin "raw_exec"')
        if task.id in self._tasks:
            raise DriverError(f"raw_exec: task {task.id!r} is already running")
        config: RawExecTaskConfig = self.parse_task_config(task.config)
        argv = [resolve_command(config.command, task), *config.args]
        cwd = working_dir(config, task)
        for path in (task.stdout_path, task.stderr_path):
            path.parent.mkdir(parents=True, exist_ok=True)
        with task.stdout_path.open("ab") as stdout, task.stderr_path.open("ab") as stderr:
            process = await spawn(argv, task, cwd, stdout=stdout, stderr=stderr)
        running = RawExecTask.from_child(task, process)
        self._tasks[task.id] = running
        if config.oom_score_adj:
            _set_oom_score_adj(running, config.oom_score_adj)
        return TaskHandle(
            version=HANDLE_VERSION,
            config=task,
            state="running",
            driver_state={
                "pid": running.pid,
                "start_time": running.start_time,
                "started_at": running.started_at.isoformat(),
            },
        )

    async def wait_task(self, task_id: str) -> ExitResult:
        """Wait for the task's main process to exit and return its exit code and signal."""
        return await self._get(task_id).wait()

    async def stop_task(self, task_id: str, timeout: float, signal: str = "SIGTERM") -> None:
        """Signal the task's whole process group, SIGKILL it after ``timeout`` seconds.

        :raises DriverError: ``signal`` is not a signal name.
        """
        await self._get(task_id).stop(timeout, _signal(signal))

    async def destroy_task(self, task_id: str, force: bool = False) -> None:
        """Kill anything left of the task and forget it.

        :raises DriverError: the task still runs and ``force`` is false.
        """
        task = self._get(task_id)
        if not task.exited and not force:
            raise DriverError(f"raw_exec: task {task_id!r} is still running; stop it first")
        await task.stop(0, signals.SIGKILL)
        await task.close()
        del self._tasks[task_id]

    async def inspect_task(self, task_id: str) -> TaskStatus:
        """The task's state (``running`` or ``exited``), times, exit result and pid."""
        task = self._get(task_id)
        return TaskStatus(
            id=task_id,
            name=task.config.name,
            state="exited" if task.exited else "running",
            started_at=task.started_at,
            completed_at=task.completed_at,
            exit_result=task.exit_result,
            driver_attributes={"pid": str(task.pid)},
        )

    async def task_stats(self, task_id: str) -> TaskResourceUsage:
        """CPU and RSS summed over every process of the task, read from ``/proc``."""
        return self._get(task_id).usage()

    async def signal_task(self, task_id: str, signal: str) -> None:
        """Send ``signal`` to every process of the task.

        :raises DriverError: the task has exited, or ``signal`` is not a signal name.
        """
        task = self._get(task_id)
        signum = _signal(signal)
        if task.exited:
            raise DriverError(f"raw_exec: task {task_id!r} has exited; cannot send {signal}")
        task.signal(signum)

    async def exec_task(self, task_id: str, cmd: list[str], timeout: float) -> ExecResult:
        """Run ``cmd`` with the task's environment, user and working directory."""
        task = self._get(task_id)
        config: RawExecTaskConfig = self.parse_task_config(task.config.config)
        return await run_in_task(cmd, config, task.config, timeout)

    async def recover_task(self, handle: TaskHandle) -> None:
        """Reattach to the task in ``handle`` if its process still runs.

        Recovering a task this driver already tracks is a no-op.

        :raises DriverError: the handle is not a raw_exec handle, or the process it names is
            gone (or its pid now belongs to another process).
        """
        task_id = handle.config.id
        if task_id in self._tasks:
            return
        state = handle.driver_state
        try:
            pid, start_time = int(state["pid"]), int(state["start_time"])
            started_at = datetime.fromisoformat(state["started_at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DriverError(f"raw_exec: cannot recover task {task_id!r}: bad handle") from exc
        if not is_same_process(pid, start_time):
            raise DriverError(
                f"raw_exec: cannot recover task {task_id!r}: process {pid} is no longer running"
            )
        self._tasks[task_id] = RawExecTask.from_recovered(
            handle.config, pid, start_time, started_at
        )

    def _get(self, task_id: str) -> RawExecTask:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskNotFoundError(task_id) from None


def _signal(name: str) -> int:
    try:
        return signal_number(name)
    except ValueError as exc:
        raise DriverError(f"raw_exec: {exc}") from None


def _set_oom_score_adj(task: RawExecTask, value: int) -> None:
    # Raising a process's OOM score needs no privilege; it is set right after the start, so
    # only a task that allocates a lot in its first instant could be judged without it.
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        (PROC / str(task.pid) / "oom_score_adj").write_text(str(value))
