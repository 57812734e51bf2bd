"""The ``raw_exec`` task driver: runs a command on the host, as the agent's user (or the
task's ``user`` when the agent is root), with no isolation.

Each task runs in a session of its own so that stopping it reaches everything it forked. The
handle persisted by the client records the leader's pid and its start time from ``/proc``;
after a client restart :meth:`RawExecDriver.recover_task` reattaches only if that same
process still runs. Like Nomad, the driver is off until the agent config enables it.
"""

from __future__ import annotations

from typing import ClassVar

from caravan_plugins import (
    Capabilities,
    DriverError,
    ExecResult,
    Fingerprint,
    TaskConfig,
    TaskHandle,
)
from caravan_plugins.drivers import HEALTHY_DESCRIPTION
from caravan_plugins.process import PROC
from caravan_plugins.process_driver import HostProcessDriver

from .config import RawExecConfig, RawExecTaskConfig
from .launch import resolve_command, run_in_task, spawn, working_dir
from .task import RawExecTask


class RawExecDriver(HostProcessDriver[RawExecTask]):
    """Runs tasks as plain host processes. Entry point ``raw_exec`` in ``caravan.drivers``."""

    name: ClassVar[str] = "raw_exec"
    config_schema = RawExecConfig
    task_config_schema = RawExecTaskConfig
    task_class = RawExecTask

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
        self.ensure_new(task)
        config: RawExecTaskConfig = self.parse_task_config(task.config)
        argv = [resolve_command(config.command, task), *config.args]
        cwd = working_dir(config, task)
        running = await self.launch(
            task, lambda stdout, stderr: spawn(argv, task, cwd, stdout=stdout, stderr=stderr)
        )
        if config.oom_score_adj:
            running.set_oom_score_adj(config.oom_score_adj)
        return self.handle(running)

    async def exec_task(self, task_id: str, cmd: list[str], timeout: float) -> ExecResult:
        """Run ``cmd`` with the task's environment, user and working directory."""
        task = self.task(task_id)
        config: RawExecTaskConfig = self.parse_task_config(task.config.config)
        return await run_in_task(cmd, config, task.config, timeout)
