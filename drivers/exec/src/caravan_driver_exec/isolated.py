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
from abc import abstractmethod
from pathlib import Path
from typing import Any

from caravan_plugins import (
    DriverError,
    ExecResult,
    Fingerprint,
    InvalidTaskConfigError,
    TaskConfig,
    TaskHandle,
)
from caravan_plugins.capabilities import disallowed_capabilities
from caravan_plugins.process_driver import HostProcessDriver
from caravan_plugins.process_tasks import collect_output
from caravan_plugins.validation import FieldProblem

from .cgroups import TaskCgroup, cgroup_version, task_cgroup
from .chroot import remove_mount_points
from .launch import Isolation, build_spec, start_executor
from .task import IsolatedTask

TASK_TMP_MODE = 0o1777


class IsolatedDriver(HostProcessDriver[IsolatedTask]):
    """Start and exec into isolated tasks; waiting, stopping, stats and recovery are the
    SDK's :class:`~caravan_plugins.process_driver.HostProcessDriver` over
    :class:`.task.IsolatedTask`."""

    task_class = IsolatedTask

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
        self.ensure_new(task)
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
        spec.exit_file = str(exit_file(task))
        tmp = task.task_dir / "tmp"
        if tmp.is_dir():
            tmp.chmod(TASK_TMP_MODE)
        try:
            running = await self.launch(
                task,
                lambda stdout, stderr: start_executor(
                    spec, self.name, stdout=stdout, stderr=stderr
                ),
                cgroup=cgroup,
                chroot_env=spec.chroot_env,
                exit_file=spec.exit_file,
            )
        except DriverError:
            await _discard(task, cgroup, spec.chroot_env)
            raise
        return self.handle(running)

    async def exec_task(self, task_id: str, cmd: list[str], timeout: float) -> ExecResult:
        """Run ``cmd`` inside the task: its namespaces, chroot, cgroup, user and
        capabilities; kill it after ``timeout`` seconds (``err`` then says so)."""
        task = self.task(task_id)
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
        return await collect_output(process, timeout)

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


def exit_file(task: TaskConfig) -> Path:
    """Where the executor of ``task`` records its exit: in the allocation's directory, next
    to (not inside) the task's chroot, so the task cannot write it."""
    instance = task.id.rsplit("/", 1)[-1]
    return Path(task.alloc_dir) / f".{task.name}-{instance}.exit"


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
