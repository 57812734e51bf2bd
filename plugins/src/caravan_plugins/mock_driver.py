"""The ``mock`` driver: tasks that only pretend to run, for scheduler, API and client tests.

Nothing is executed. Each task is an asyncio timer that "runs" for ``run_for``, writes
``stdout_string`` / ``stderr_string`` into the task's log files, and then reports the
configured exit. Task config keys follow Nomad's mock driver::

    task "web" {
      driver = "mock"
      config {
        run_for         = "30s"   # 0 (the default): run until stopped
        exit_code       = 0
        exit_signal     = 0
        exit_err_msg    = ""
        kill_after      = "3s"    # how long the task takes to exit after a stop signal
        start_error     = ""      # fail start_task with this message
        start_block_for = "1s"
        signal_error    = ""      # fail signal_task with this message
        stdout_string   = "hello\\n"
        stdout_repeat   = 3       # written this many times (at least once)
        stdout_repeat_duration = "1s"
      }
    }

The handle's ``driver_state`` records the task's wall-clock start time, so a new driver
instance recovering the handle knows when the task ends, as if it had kept running.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from .drivers import (
    HEALTHY_DESCRIPTION,
    Capabilities,
    ExecResult,
    ExitResult,
    Fingerprint,
    TaskConfig,
    TaskDriver,
    TaskHandle,
    TaskResourceUsage,
    TaskStatus,
)
from .durations import parse_duration
from .errors import DriverError, TaskNotFoundError
from .signals import signal_number

SIGKILL = 9


class MockDriverConfig(BaseModel):
    """Agent config of the mock driver: ``plugin "mock" { config { fs_isolation = "image" } }``."""

    model_config = ConfigDict(extra="forbid")

    fs_isolation: Literal["none", "chroot", "image"] = "none"


class MockTaskConfig(BaseModel):
    """A mock task's ``config {}`` block; durations accept Go strings (``"250ms"``)."""

    model_config = ConfigDict(extra="forbid")

    run_for: float = 0.0
    exit_code: int = 0
    exit_signal: int = 0
    exit_err_msg: str = ""
    kill_after: float = 0.0
    start_error: str = ""
    start_error_recoverable: bool = False
    start_block_for: float = 0.0
    signal_error: str = ""
    stdout_string: str = ""
    stdout_repeat: int = 0
    stdout_repeat_duration: float = 0.0
    stderr_string: str = ""
    stderr_repeat: int = 0
    stderr_repeat_duration: float = 0.0

    @field_validator(
        "run_for",
        "kill_after",
        "start_block_for",
        "stdout_repeat_duration",
        "stderr_repeat_duration",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class _MockTask:
    """One pretend task: its timers, its output and, once over, its exit result."""

    def __init__(
        self, config: TaskConfig, spec: MockTaskConfig, started_at: float, recovered: bool
    ) -> None:
        self.config = config
        self.recovered = recovered
        self.spec = spec
        self.started_at = started_at
        self.completed_at: float | None = None
        self.result: ExitResult | None = None
        self.exited = asyncio.Event()
        self.stop_signal: int | None = None
        self.stop_requested = asyncio.Event()
        self._runner = asyncio.create_task(self._run(), name=f"mock task {config.id}")

    def elapsed(self) -> float:
        return time.time() - self.started_at

    async def _run(self) -> None:
        writers = [
            asyncio.create_task(self._write(self.config.stdout_path, "stdout")),
            asyncio.create_task(self._write(self.config.stderr_path, "stderr")),
        ]
        try:
            result = await self._lifetime()
        finally:
            for writer in writers:
                writer.cancel()
        self.finish(result)

    async def _lifetime(self) -> ExitResult:
        spec = self.spec
        stop = asyncio.create_task(self.stop_requested.wait())
        try:
            timeout = max(spec.run_for - self.elapsed(), 0) if spec.run_for else None
            await asyncio.wait({stop}, timeout=timeout)
        finally:
            stop.cancel()
        if self.stop_signal is None:
            return ExitResult(
                exit_code=spec.exit_code,
                signal=spec.exit_signal,
                err=spec.exit_err_msg or None,
            )
        # Like a process handling its stop signal: it takes kill_after to wind down.
        await asyncio.sleep(spec.kill_after)
        return ExitResult(exit_code=spec.exit_code, signal=self.stop_signal)

    async def _write(self, path: Path, stream: Literal["stdout", "stderr"]) -> None:
        text: str = getattr(self.spec, f"{stream}_string")
        repeat = max(getattr(self.spec, f"{stream}_repeat"), 1)
        every: float = getattr(self.spec, f"{stream}_repeat_duration")
        for i in range(repeat if text else 0):
            due = self.started_at + i * every
            # A recovered task already wrote what was due while the client was away.
            if self.recovered and due <= time.time():
                continue
            await asyncio.sleep(max(due - time.time(), 0))
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as fh:
                fh.write(text)

    def finish(self, result: ExitResult) -> None:
        if self.result is None:
            self.result = result
            self.completed_at = time.time()
            self.exited.set()

    def kill(self) -> None:
        self._runner.cancel()
        self.finish(ExitResult(signal=SIGKILL))

    def status(self) -> TaskStatus:
        return TaskStatus(
            id=self.config.id,
            name=self.config.name,
            state="exited" if self.result else "running",
            started_at=datetime.fromtimestamp(self.started_at, UTC),
            completed_at=(
                datetime.fromtimestamp(self.completed_at, UTC) if self.completed_at else None
            ),
            exit_result=self.result,
        )


class MockDriver(TaskDriver):
    """A driver whose tasks run in-process as timers; see the module docstring."""

    name = "mock"
    config_schema = MockDriverConfig
    task_config_schema = MockTaskConfig

    def __init__(self, config: BaseModel | None = None) -> None:
        super().__init__(config)
        self._tasks: dict[str, _MockTask] = {}

    def _task(self, task_id: str) -> _MockTask:
        try:
            return self._tasks[task_id]
        except KeyError:
            raise TaskNotFoundError(task_id) from None

    def capabilities(self) -> Capabilities:
        """Signals and exec are supported; isolation is whatever the config claims."""
        return Capabilities(
            send_signals=True,
            exec=True,
            fs_isolation=self.config.fs_isolation,
            net_isolation_modes=["host", "group"],
        )

    async def fingerprint(self) -> Fingerprint:
        """Always healthy, with attribute ``driver.mock = "1"``."""
        return Fingerprint(
            health="healthy",
            health_description=HEALTHY_DESCRIPTION,
            attributes={"driver.mock": "1"},
        )

    async def start_task(self, task: TaskConfig) -> TaskHandle:
        """Start a pretend task after ``start_block_for``; fail with ``start_error``."""
        spec: MockTaskConfig = self.parse_task_config(task.config)
        if task.id in self._tasks:
            raise DriverError(f"task {task.id!r} is already started")
        await asyncio.sleep(spec.start_block_for)
        if spec.start_error:
            raise DriverError(spec.start_error)
        mock = _MockTask(task, spec, started_at=time.time(), recovered=False)
        self._tasks[task.id] = mock
        return TaskHandle(config=task, driver_state={"started_at": mock.started_at})

    async def recover_task(self, handle: TaskHandle) -> None:
        """Re-create the task from its recorded start time; a task already known is kept."""
        task_id = handle.config.id
        if task_id in self._tasks:
            return
        started_at = handle.driver_state.get("started_at")
        if not isinstance(started_at, int | float):
            raise DriverError(f"task {task_id!r}: handle has no start time to recover from")
        spec: MockTaskConfig = self.parse_task_config(handle.config.config)
        self._tasks[task_id] = _MockTask(
            handle.config, spec, started_at=float(started_at), recovered=True
        )

    async def wait_task(self, task_id: str) -> ExitResult:
        """Wait for the pretend task to end."""
        mock = self._task(task_id)
        await mock.exited.wait()
        assert mock.result is not None
        return mock.result

    async def stop_task(self, task_id: str, timeout: float, signal: str = "SIGTERM") -> None:
        """Deliver ``signal``; the task exits ``kill_after`` later, or is killed (signal 9)
        when that is longer than ``timeout``."""
        mock = self._task(task_id)
        if mock.result is not None:
            return
        if mock.stop_signal is None:
            mock.stop_signal = signal_number(signal)
            mock.stop_requested.set()
        try:
            await asyncio.wait_for(mock.exited.wait(), timeout)
        except TimeoutError:
            mock.kill()

    async def destroy_task(self, task_id: str, force: bool = False) -> None:
        """Forget the task; a running one needs ``force`` and is killed."""
        mock = self._task(task_id)
        if mock.result is None:
            if not force:
                raise DriverError(f"task {task_id!r} is still running; stop it or use force")
            mock.kill()
        del self._tasks[task_id]

    async def inspect_task(self, task_id: str) -> TaskStatus:
        """The pretend task's state, times and exit result."""
        return self._task(task_id).status()

    async def task_stats(self, task_id: str) -> TaskResourceUsage:
        """A sample with nothing measured: a pretend task uses no resources."""
        self._task(task_id)
        return TaskResourceUsage(timestamp=datetime.now(UTC))

    async def signal_task(self, task_id: str, signal: str) -> None:
        """Accept the signal (the task ignores it), or fail with ``signal_error``."""
        mock = self._task(task_id)
        signal_number(signal)
        if mock.result is not None:
            raise DriverError(f"task {task_id!r} has exited")
        if mock.spec.signal_error:
            raise DriverError(mock.spec.signal_error)

    async def exec_task(self, task_id: str, cmd: list[str], timeout: float) -> ExecResult:
        """Echo the command line back on stdout with exit code 0."""
        mock = self._task(task_id)
        if mock.result is not None:
            raise DriverError(f"task {task_id!r} has exited")
        return ExecResult(stdout=(" ".join(cmd) + "\n").encode())
