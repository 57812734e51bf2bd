"""The ``pycall`` task driver: runs a Python callable in a fresh interpreter subprocess.

Each task is ``python -c <bootstrap> <spec>`` (see :mod:`.bootstrap`), started in a session
of its own with exactly the task's environment, in the task directory, writing stdout and
stderr to the task's log files. Stopping, signals, stats and recovery after a client restart
work as for ``raw_exec``: the persisted handle records the interpreter's pid and its start
time from ``/proc``, so a recycled pid is never mistaken for the task.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import shutil
import signal as signals
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

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

from .config import PycallConfig, PycallTaskConfig
from .task import SIGNAL_EXIT_BASE, PycallTask

HANDLE_VERSION = 1
BOOTSTRAP = resources.files(__package__).joinpath("bootstrap.py").read_text()
# How long the fingerprint waits for the interpreter to report its version.
PROBE_TIMEOUT = 10.0


class PycallDriver(TaskDriver):
    """Runs ``module:function`` callables. Entry point ``pycall`` in ``caravan.drivers``."""

    name: ClassVar[str] = "pycall"
    config_schema = PycallConfig
    task_config_schema = PycallTaskConfig

    def __init__(self, config: PycallConfig | None = None) -> None:
        super().__init__(config)
        self._tasks: dict[str, PycallTask] = {}

    def capabilities(self) -> Capabilities:
        """Signals and exec are supported; no filesystem isolation; host or group network."""
        return Capabilities(
            send_signals=True, exec=True, fs_isolation="none", net_isolation_modes=["host", "group"]
        )

    async def fingerprint(self) -> Fingerprint:
        """``healthy`` when enabled and the interpreter runs, with ``driver.pycall = "1"`` and
        ``driver.pycall.python_version``; ``undetected`` when disabled or without ``/proc``,
        ``unhealthy`` when the interpreter cannot be run."""
        if not self.config.enabled:
            return Fingerprint(health="undetected", health_description="disabled")
        if not PROC.joinpath("self", "stat").exists():
            return Fingerprint(health="undetected", health_description="pycall needs /proc")
        version = await _python_version(self.config.python)
        if version is None:
            return Fingerprint(
                health="unhealthy",
                health_description=f"interpreter {self.config.python!r} does not run",
            )
        return Fingerprint(
            health="healthy",
            health_description=HEALTHY_DESCRIPTION,
            attributes={"driver.pycall": "1", "driver.pycall.python_version": version},
        )

    async def start_task(self, task: TaskConfig) -> TaskHandle:
        """Start the interpreter that imports and calls the task's callable.

        :raises InvalidTaskConfigError: the ``config {}`` block does not fit the schema.
        :raises DriverError: the driver is disabled, the task id is taken, the task asks for
            another user, or the interpreter could not be started.
        """
        if not self.config.enabled:
            raise DriverError('pycall is disabled: set enabled = true in plugin "pycall"')
        if task.id in self._tasks:
            raise DriverError(f"pycall: task {task.id!r} is already running")
        config: PycallTaskConfig = self.parse_task_config(task.config)
        _check_user(task.user)
        for path in (task.stdout_path, task.stderr_path):
            path.parent.mkdir(parents=True, exist_ok=True)
        with task.stdout_path.open("ab") as stdout, task.stderr_path.open("ab") as stderr:
            process = await _spawn(
                [self.config.python, "-c", BOOTSTRAP, json.dumps(_spec(config, task))],
                task,
                stdout=stdout,
                stderr=stderr,
            )
        running = PycallTask.from_child(task, process)
        self._tasks[task.id] = running
        return TaskHandle(
            version=HANDLE_VERSION,
            config=task,
            driver_state={
                "pid": running.pid,
                "start_time": running.start_time,
                "started_at": running.started_at.isoformat(),
            },
        )

    async def wait_task(self, task_id: str) -> ExitResult:
        """Wait for the interpreter to exit; see :mod:`.bootstrap` for the exit codes."""
        return await self._get(task_id).wait()

    async def stop_task(self, task_id: str, timeout: float, signal: str = "SIGTERM") -> None:
        """Signal the task's process group, SIGKILL it after ``timeout`` seconds."""
        await self._get(task_id).stop(timeout, _signal(signal))

    async def destroy_task(self, task_id: str, force: bool = False) -> None:
        """Kill what is left of the task and forget it.

        :raises DriverError: the task still runs and ``force`` is false.
        """
        task = self._get(task_id)
        if not task.exited and not force:
            raise DriverError(f"pycall: task {task_id!r} is still running; stop it first")
        await task.stop(0, signals.SIGKILL)
        await task.close()
        del self._tasks[task_id]

    async def inspect_task(self, task_id: str) -> TaskStatus:
        """The task's state, times, exit result, pid and callable."""
        task = self._get(task_id)
        return TaskStatus(
            id=task_id,
            name=task.config.name,
            state="exited" if task.exited else "running",
            started_at=task.started_at,
            completed_at=task.completed_at,
            exit_result=task.exit_result,
            driver_attributes={
                "pid": str(task.pid),
                "callable": str(task.config.config.get("callable", "")),
            },
        )

    async def task_stats(self, task_id: str) -> TaskResourceUsage:
        """CPU and RSS summed over the interpreter and everything it started."""
        return self._get(task_id).usage()

    async def signal_task(self, task_id: str, signal: str) -> None:
        """Send ``signal`` to every process of the task.

        :raises DriverError: the task has exited, or ``signal`` is not a signal name.
        """
        task = self._get(task_id)
        signum = _signal(signal)
        if task.exited:
            raise DriverError(f"pycall: task {task_id!r} has exited; cannot send {signal}")
        task.signal(signum)

    async def exec_task(self, task_id: str, cmd: list[str], timeout: float) -> ExecResult:
        """Run ``cmd`` in the task's directory with its environment; kill it after
        ``timeout`` seconds."""
        task = self._get(task_id)
        if not cmd:
            raise DriverError("pycall: exec needs a command")
        program = shutil.which(cmd[0], path=task.config.env.get("PATH", os.defpath))
        if program is None:
            raise DriverError(f"pycall: command {cmd[0]!r} not found on the task's PATH")
        process = await _spawn(
            [program, *cmd[1:]],
            task.config,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signals.SIGKILL)
            stdout, stderr = await process.communicate()
            killed = ExitResult(
                exit_code=SIGNAL_EXIT_BASE + signals.SIGKILL,
                signal=signals.SIGKILL,
                err=f"command timed out after {timeout:g}s",
            )
            return ExecResult(stdout=stdout, stderr=stderr, exit_result=killed)
        code = process.returncode or 0
        result = (
            ExitResult(exit_code=SIGNAL_EXIT_BASE - code, signal=-code)
            if code < 0
            else ExitResult(exit_code=code)
        )
        return ExecResult(stdout=stdout, stderr=stderr, exit_result=result)

    async def recover_task(self, handle: TaskHandle) -> None:
        """Reattach to the task in ``handle`` if its interpreter still runs; a no-op for a
        task this driver already tracks.

        :raises DriverError: the handle is not a pycall handle, or its process is gone.
        """
        task_id = handle.config.id
        if task_id in self._tasks:
            return
        state = handle.driver_state
        try:
            pid, start_time = int(state["pid"]), int(state["start_time"])
            started_at = datetime.fromisoformat(state["started_at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DriverError(f"pycall: cannot recover task {task_id!r}: bad handle") from exc
        if not is_same_process(pid, start_time):
            raise DriverError(
                f"pycall: cannot recover task {task_id!r}: process {pid} is no longer running"
            )
        self._tasks[task_id] = PycallTask.from_recovered(handle.config, pid, start_time, started_at)

    def _get(self, task_id: str) -> PycallTask:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskNotFoundError(task_id) from None


def _spec(config: PycallTaskConfig, task: TaskConfig) -> dict[str, Any]:
    # Relative python_path entries mean "inside the task directory", as work_dir does.
    paths = [str(task.task_dir / p) if not Path(p).is_absolute() else p for p in config.python_path]
    return {
        "callable": config.callable,
        "args": config.args,
        "kwargs": config.kwargs,
        "python_path": paths,
    }


async def _spawn(argv: list[str], task: TaskConfig, **streams: Any) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *argv,
            cwd=task.task_dir,
            env=task.env,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            **streams,
        )
    except OSError as exc:
        raise DriverError(f"pycall: cannot start {argv[0]!r}: {exc.strerror or exc}") from exc


async def _python_version(python: str) -> str | None:
    try:
        process = await asyncio.create_subprocess_exec(
            python,
            "-c",
            "import platform; print(platform.python_version())",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), PROBE_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        return None
    return stdout.decode().strip() if process.returncode == 0 else None


def _check_user(user: str) -> None:
    # Switching users needs root and a policy for who may run as whom; pycall keeps to the
    # agent's own user rather than half-support it.
    if user and user != _agent_user():
        raise DriverError(f"pycall: cannot run as user {user!r}: tasks run as the agent's user")


def _agent_user() -> str:
    return pwd.getpwuid(os.geteuid()).pw_name


def _signal(name: str) -> int:
    try:
        return signal_number(name)
    except ValueError as exc:
        raise DriverError(f"pycall: {exc}") from None
