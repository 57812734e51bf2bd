"""The task bookkeeping of a driver that runs host processes, written once.

A driver such as ``raw_exec``, ``exec`` or ``pycall`` subclasses :class:`HostProcessDriver`,
names its :class:`~caravan_plugins.process_tasks.HostProcessTask` class in ``task_class``
and writes only what is its own: the fingerprint, how a task's process is started
(``start_task``, using :meth:`HostProcessDriver.launch` and :meth:`HostProcessDriver.handle`)
and, if it offers it, ``exec_task``. Waiting, stopping, signalling, stats, inspection,
destruction and recovery after a client restart come from here; the handle records the
leader's pid and its start time from ``/proc``, so a recycled pid is never mistaken for the
task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import IO, Any, ClassVar, Generic, TypeVar

from .drivers import ExitResult, TaskConfig, TaskDriver, TaskHandle, TaskResourceUsage, TaskStatus
from .errors import DriverError, TaskNotFoundError
from .process import is_same_process
from .process_tasks import HostProcessTask
from .signals import signal_number

TaskT = TypeVar("TaskT", bound=HostProcessTask)

#: Starts a task's process writing to the two open log files (stdout, stderr).
Launcher = Callable[[IO[bytes], IO[bytes]], Awaitable[asyncio.subprocess.Process]]


class HostProcessDriver(TaskDriver, Generic[TaskT]):
    """A :class:`TaskDriver` whose tasks are host processes tracked by ``task_class``."""

    #: The class tracking one task; its constructor's extra arguments come from ``launch``
    #: and from its own ``restore_state``.
    task_class: type[TaskT]
    #: The ``version`` of the handles this driver writes.
    handle_version: ClassVar[int] = 1

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._tasks: dict[str, TaskT] = {}

    def ensure_new(self, task: TaskConfig) -> None:
        """:raises DriverError: a task with ``task``'s id is already tracked."""
        if task.id in self._tasks:
            raise DriverError(f"{self.name}: task {task.id!r} is already running")

    async def launch(self, task: TaskConfig, start: Launcher, **extra: Any) -> TaskT:
        """Open the task's log files (creating their directory), start its process with
        ``start(stdout, stderr)`` and track it.

        :param extra: passed to ``task_class``'s constructor.
        :returns: the tracked task.
        :raises DriverError: whatever ``start`` raises; nothing is tracked then.
        """
        for path in (task.stdout_path, task.stderr_path):
            path.parent.mkdir(parents=True, exist_ok=True)
        with task.stdout_path.open("ab") as stdout, task.stderr_path.open("ab") as stderr:
            process = await start(stdout, stderr)
        running = self.task_class.from_child(task, process, **extra)
        self._tasks[task.id] = running
        return running

    def handle(self, running: TaskT) -> TaskHandle:
        """The handle ``start_task`` returns for ``running``, with its ``handle_state``."""
        return TaskHandle(
            version=self.handle_version,
            config=running.config,
            state="running",
            driver_state=running.handle_state(),
        )

    def task(self, task_id: str) -> TaskT:
        """The tracked task ``task_id``.

        :raises TaskNotFoundError: no such task.
        """
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskNotFoundError(task_id) from None

    def signal_number(self, name: str) -> int:
        """The number of signal ``name``.

        :raises DriverError: not a signal name.
        """
        try:
            return signal_number(name)
        except ValueError as exc:
            raise DriverError(f"{self.name}: {exc}") from None

    async def wait_task(self, task_id: str) -> ExitResult:
        """Wait for the task's main process to exit and return its exit code and signal."""
        return await self.task(task_id).wait()

    async def stop_task(self, task_id: str, timeout: float, signal: str = "SIGTERM") -> None:
        """Send ``signal`` to the task, SIGKILL every process of it after ``timeout`` seconds.

        :raises DriverError: ``signal`` is not a signal name.
        """
        await self.task(task_id).stop(timeout, self.signal_number(signal))

    async def destroy_task(self, task_id: str, force: bool = False) -> None:
        """Kill anything left of the task, free what it held and forget it.

        :raises DriverError: the task still runs and ``force`` is false.
        """
        task = self.task(task_id)
        if not task.exited and not force:
            raise DriverError(f"{self.name}: task {task_id!r} is still running; stop it first")
        await task.release()
        del self._tasks[task_id]

    async def inspect_task(self, task_id: str) -> TaskStatus:
        """The task's state (``running`` or ``exited``), times, exit result and the task's
        ``attributes()`` (its pid, and what else the driver reports)."""
        task = self.task(task_id)
        return TaskStatus(
            id=task_id,
            name=task.config.name,
            state="exited" if task.exited else "running",
            started_at=task.started_at,
            completed_at=task.completed_at,
            exit_result=task.exit_result,
            driver_attributes=task.attributes(),
        )

    async def task_stats(self, task_id: str) -> TaskResourceUsage:
        """CPU and memory of every process of the task."""
        return self.task(task_id).usage()

    async def signal_task(self, task_id: str, signal: str) -> None:
        """Send ``signal`` to the task.

        :raises DriverError: the task has exited, or ``signal`` is not a signal name.
        """
        task = self.task(task_id)
        signum = self.signal_number(signal)
        if task.exited:
            raise DriverError(f"{self.name}: task {task_id!r} has exited; cannot send {signal}")
        task.signal(signum)

    async def recover_task(self, handle: TaskHandle) -> None:
        """Reattach to the task in ``handle`` if its process still runs, or take it back as
        exited when it ended while no driver watched it and its ``task_class`` knows how
        (:meth:`~caravan_plugins.process_tasks.HostProcessTask.recorded_exit`); a no-op for
        a task this driver already tracks.

        :raises DriverError: the handle is not this driver's, or the process it names is
            gone (or its pid now belongs to another process) and how it ended is unknown.
        """
        task_id = handle.config.id
        if task_id in self._tasks:
            return
        state = handle.driver_state
        try:
            pid, start_time = int(state["pid"]), int(state["start_time"])
            started_at = datetime.fromisoformat(state["started_at"])
            extra = self.task_class.restore_state(state)
        except (KeyError, TypeError, ValueError) as exc:
            raise DriverError(f"{self.name}: cannot recover task {task_id!r}: bad handle") from exc
        if is_same_process(pid, start_time):
            self._tasks[task_id] = self.task_class.from_recovered(
                handle.config, pid, start_time, started_at, **extra
            )
            return
        exited = self.task_class.from_exited(handle.config, pid, start_time, started_at, **extra)
        if exited is None:
            raise DriverError(
                f"{self.name}: cannot recover task {task_id!r}: process {pid} is no longer running"
            )
        self._tasks[task_id] = exited
