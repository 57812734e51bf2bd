"""The ``pycall`` task driver: runs a Python callable in a fresh interpreter subprocess.

Each task is ``python -c <bootstrap> <spec>`` (see :mod:`.bootstrap`), started in a session
of its own with exactly the task's environment, in the task directory, writing stdout and
stderr to the task's log files. Stopping, signals, stats and recovery after a client restart
work as for ``raw_exec``: the persisted handle records the interpreter's pid and its start
time from ``/proc``, so a recycled pid is never mistaken for the task.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

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
from caravan_plugins.process_tasks import collect_output

from .config import PycallConfig, PycallTaskConfig
from .task import PycallTask

BOOTSTRAP = resources.files(__package__).joinpath("bootstrap.py").read_text()
# How long the fingerprint waits for the interpreter to report its version.
PROBE_TIMEOUT = 10.0


class PycallDriver(HostProcessDriver[PycallTask]):
    """Runs ``module:function`` callables. Entry point ``pycall`` in ``caravan.drivers``.

    Waiting, stopping, signals, stats and recovery come from the SDK's
    :class:`~caravan_plugins.process_driver.HostProcessDriver`; this class says how to
    start the interpreter and how to run a command inside a task.
    """

    name: ClassVar[str] = "pycall"
    config_schema = PycallConfig
    task_config_schema = PycallTaskConfig
    task_class = PycallTask

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
        self.ensure_new(task)
        config: PycallTaskConfig = self.parse_task_config(task.config)
        _check_user(task.user)
        argv = [self.config.python, "-c", BOOTSTRAP, json.dumps(_spec(config, task))]
        running = await self.launch(
            task, lambda stdout, stderr: _spawn(argv, task, stdout=stdout, stderr=stderr)
        )
        return self.handle(running)

    async def exec_task(self, task_id: str, cmd: list[str], timeout: float) -> ExecResult:
        """Run ``cmd`` in the task's directory with its environment; kill it after
        ``timeout`` seconds."""
        task = self.task(task_id)
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
        return await collect_output(process, timeout)


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
