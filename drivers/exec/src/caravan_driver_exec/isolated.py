"""The task lifecycle shared by drivers that run a program isolated like Nomad's exec:
``exec`` itself and ``java``, which only differ in the program they build and in what they
fingerprint.

A subclass sets ``name``, both config schemas (the agent one with ``default_pid_mode``,
``default_ipc_mode``, ``allow_caps`` and ``chroot_env``; the task one with ``pid_mode``,
``ipc_mode``, ``cap_add``, ``cap_drop`` and ``work_dir``) and implements :meth:`program`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal as signals
from abc import abstractmethod
from datetime import datetime
from typing import Any

from caravan_plugins import (
    DriverError,
    ExecResult,
    ExitResult,
    Fingerprint,
    InvalidTaskConfigError,
    TaskConfig,
    TaskDriver,
    TaskHandle,
    TaskNotFoundError,
    TaskResourceUsage,
    TaskStatus,
)
from caravan_plugins.capabilities import disallowed_capabilities
from caravan_plugins.process import is_same_process
from caravan_plugins.signals import signal_number
from caravan_plugins.validation import FieldProblem

from .cgroups import TaskCgroup, cgroup_version, task_cgroup
from .chroot import remove_mount_points
from .launch import Isolation, build_spec, start_executor
from .task import IsolatedTask

HANDLE_VERSION = 1
TASK_TMP_MODE = 0o1777


class IsolatedDriver(TaskDriver):
    """Start, watch, stop, exec into and recover isolated tasks; see the module docstring."""

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._tasks: dict[str, IsolatedTask] = {}

    @abstractmethod
    def program(self, task_config: Any, task: TaskConfig) -> list[str]:
        """The command line of the task, from its parsed ``config {}`` block."""

    def isolation_problems(self) -> str:
        """Why isolated tasks cannot run on this node, or ``""`` when they can."""
        if os.geteuid() != 0:
            return f"{self.name} driver requires root"
        if cgroup_version() is None:
            return f"{self.name} driver requires cgroups (none mounted at /sys/fs/cgroup)"
        return ""

    def check_task_config(self, task_config: Any) -> list[FieldProblem]:
        """Problems of a parsed task config against this agent's config: capabilities in
        ``cap_add`` that ``allow_caps`` does not permit."""
        allowed = self.config.allow_caps
        return [
            FieldProblem(
                path=("cap_add", index),
                message=f"capability {cap!r} is not in allow_caps of plugin {self.name!r}",
            )
            for index, cap in enumerate(task_config.cap_add)
            if disallowed_capabilities(allowed, [cap])
        ]

    async def fingerprint_isolation(self) -> Fingerprint | None:
        """An ``unhealthy`` fingerprint when isolation is impossible here, else None."""
        problem = self.isolation_problems()
        return Fingerprint(health="unhealthy", health_description=problem) if problem else None

    async def start_task(self, task: TaskConfig) -> TaskHandle:
        """Start the task isolated, limited by its cgroup, writing to its log files.

        :raises InvalidTaskConfigError: the ``config {}`` block does not fit the schema, or
            adds capabilities the agent does not allow.
        :raises DriverError: the node cannot isolate tasks, the id is taken, or the program
            could not be started (not found in the chroot, unknown user, ...).
        """
        task_config = self.parse_task_config(task.config)
        problems = self.check_task_config(task_config)
        if problems:
            raise InvalidTaskConfigError(self.name, problems)
        problem = self.isolation_problems()
        if problem:
            raise DriverError(problem)
        if task.id in self._tasks:
            raise DriverError(f"{self.name}: task {task.id!r} is already running")
        spec = build_spec(
            self.program(task_config, task),
            task,
            self._isolation(task_config),
            task_config.work_dir,
        )
        version = cgroup_version()
        assert version is not None
        cgroup = task_cgroup(_cgroup_name(task), version)
        try:
            cgroup.create(task.resources)
        except OSError as exc:
            raise DriverError(f"{self.name}: cannot create the task's cgroup: {exc}") from exc
        spec.cgroup_procs = cgroup.procs_files()
        tmp = task.task_dir / "tmp"
        if tmp.is_dir():
            tmp.chmod(TASK_TMP_MODE)
        for path in (task.stdout_path, task.stderr_path):
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with task.stdout_path.open("ab") as stdout, task.stderr_path.open("ab") as stderr:
                process = await start_executor(spec, self.name, stdout=stdout, stderr=stderr)
        except DriverError:
            await _discard(task, cgroup, spec.chroot_env)
            raise
        running = IsolatedTask.from_child(task, process, cgroup, spec.chroot_env)
        self._tasks[task.id] = running
        return TaskHandle(
            version=HANDLE_VERSION,
            config=task,
            state="running",
            driver_state={
                "pid": running.pid,
                "start_time": running.start_time,
                "started_at": running.started_at.isoformat(),
                "cgroup": cgroup.name,
                "cgroup_version": version,
                "chroot_env": spec.chroot_env,
            },
        )

    async def wait_task(self, task_id: str) -> ExitResult:
        """Wait for the task to exit; ``oom_killed`` says whether its memory limit hit."""
        return await self._get(task_id).wait()

    async def stop_task(self, task_id: str, timeout: float, signal: str = "SIGTERM") -> None:
        """Send ``signal`` to the program, SIGKILL every process of the task after
        ``timeout`` seconds.

        :raises DriverError: ``signal`` is not a signal name.
        """
        await self._get(task_id).stop(timeout, self._signal(signal))

    async def destroy_task(self, task_id: str, force: bool = False) -> None:
        """Kill what is left, remove the cgroup and the chroot's mount points, forget it.

        :raises DriverError: the task still runs and ``force`` is false.
        """
        task = self._get(task_id)
        if not task.exited and not force:
            raise DriverError(f"{self.name}: task {task_id!r} is still running; stop it first")
        await task.release()
        del self._tasks[task_id]

    async def inspect_task(self, task_id: str) -> TaskStatus:
        """State, times, exit result, and the executor's pid and the cgroup."""
        task = self._get(task_id)
        return TaskStatus(
            id=task_id,
            name=task.config.name,
            state="exited" if task.exited else "running",
            started_at=task.started_at,
            completed_at=task.completed_at,
            exit_result=task.exit_result,
            driver_attributes={"pid": str(task.pid), "cgroup": task.cgroup.name},
        )

    async def task_stats(self, task_id: str) -> TaskResourceUsage:
        """Memory and CPU of every process of the task, read from its cgroup."""
        return self._get(task_id).usage()

    async def recover_task(self, handle: TaskHandle) -> None:
        """Reattach to the task in ``handle`` if its executor still runs; a no-op for a
        task this driver already tracks.

        :raises DriverError: the handle is not this driver's, or its process is gone.
        """
        task_id = handle.config.id
        if task_id in self._tasks:
            return
        state = handle.driver_state
        try:
            pid, start_time = int(state["pid"]), int(state["start_time"])
            started_at = datetime.fromisoformat(state["started_at"])
            cgroup = task_cgroup(str(state["cgroup"]), int(state["cgroup_version"]))
            chroot_env = dict(state["chroot_env"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DriverError(f"{self.name}: cannot recover task {task_id!r}: bad handle") from exc
        if not is_same_process(pid, start_time):
            raise DriverError(
                f"{self.name}: cannot recover task {task_id!r}: process {pid} is no longer running"
            )
        self._tasks[task_id] = IsolatedTask.from_recovered(
            handle.config, pid, start_time, started_at, cgroup, chroot_env
        )

    async def signal_task(self, task_id: str, signal: str) -> None:
        """Deliver ``signal`` to the task's program.

        :raises DriverError: the task has exited, or ``signal`` is not a signal name.
        """
        task = self._get(task_id)
        signum = self._signal(signal)
        if task.exited:
            raise DriverError(f"{self.name}: task {task_id!r} has exited; cannot send {signal}")
        task.signal(signum)

    async def exec_task(self, task_id: str, cmd: list[str], timeout: float) -> ExecResult:
        """Run ``cmd`` inside the task: its namespaces, chroot, cgroup, user and
        capabilities; kill it after ``timeout`` seconds (``err`` then says so)."""
        task = self._get(task_id)
        if task.exited:
            raise DriverError(f"{self.name}: task {task_id!r} has exited; cannot exec")
        if not cmd:
            raise DriverError(f"{self.name}: exec needs a command")
        task_config = self.parse_task_config(task.config.config)
        spec = build_spec(cmd, task.config, self._isolation(task_config), task_config.work_dir)
        spec.join_pid = task.pid
        spec.cgroup_procs = task.cgroup.procs_files()
        process = await start_executor(
            spec, self.name, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            os.killpg(process.pid, signals.SIGKILL)
            stdout, stderr = await process.communicate()
            return ExecResult(
                stdout=stdout,
                stderr=stderr,
                exit_result=ExitResult(
                    exit_code=128 + signals.SIGKILL,
                    signal=signals.SIGKILL,
                    err=f"command timed out after {timeout:g}s",
                ),
            )
        code = process.returncode or 0
        exit_result = (
            ExitResult(exit_code=128 - code, signal=-code)
            if code < 0
            else ExitResult(exit_code=code)
        )
        return ExecResult(stdout=stdout, stderr=stderr, exit_result=exit_result)

    def _isolation(self, task_config: Any) -> Isolation:
        config = self.config
        pid_mode = task_config.pid_mode or config.default_pid_mode
        ipc_mode = task_config.ipc_mode or config.default_ipc_mode
        return Isolation(
            driver=self.name,
            chroot_env=dict(config.chroot_env),
            pid_private=pid_mode == "private",
            ipc_private=ipc_mode == "private",
            allow_caps=list(config.allow_caps),
            cap_add=list(task_config.cap_add),
            cap_drop=list(task_config.cap_drop),
            denied_uids=getattr(config, "denied_host_uids", ""),
            denied_gids=getattr(config, "denied_host_gids", ""),
        )

    def _get(self, task_id: str) -> IsolatedTask:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskNotFoundError(task_id) from None

    def _signal(self, name: str) -> int:
        try:
            return signal_number(name)
        except ValueError as exc:
            raise DriverError(f"{self.name}: {exc}") from None


def _cgroup_name(task: TaskConfig) -> str:
    # Task ids are "<alloc>/<task>/<suffix>"; a cgroup name cannot contain a slash.
    return task.id.replace("/", "-")


async def _discard(task: TaskConfig, cgroup: TaskCgroup, chroot_env: dict[str, str]) -> None:
    """Undo a start that failed after the cgroup was made."""
    for _ in range(100):
        cgroup.kill_all()
        if not cgroup.pids():
            break
        await asyncio.sleep(0.01)
    with contextlib.suppress(OSError):
        cgroup.remove()
    remove_mount_points(task.task_dir, chroot_env)
