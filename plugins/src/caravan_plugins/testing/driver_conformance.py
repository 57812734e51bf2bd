"""The conformance suite every task driver runs in its own tests.

Subclass :class:`TaskDriverConformance` in a module collected by pytest, name the subclass
``Test...``, and supply the driver class, its agent config and four task configs::

    class TestRawExec(TaskDriverConformance):
        driver_class = RawExecDriver
        driver_config = {"enabled": True}

        def config_sleep(self):
            return {"command": "sleep", "args": ["60"]}

        def config_exit(self, code):
            return {"command": "sh", "args": ["-c", f"exit {code}"]}

        def config_print(self, text):
            return {"command": "echo", "args": [text]}

        def config_trap_sigterm(self):
            return {"command": "sh", "args": ["-c", "trap '' TERM; sleep 60"]}

The tests are coroutines: the project needs pytest-asyncio with ``asyncio_mode = "auto"``.
Every task a test starts is destroyed afterwards, pass or fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import pytest

from ..drivers import (
    Capabilities,
    ExitResult,
    TaskDriver,
    TaskHandle,
    TaskResourceUsage,
)
from ..errors import (
    DriverError,
    InvalidTaskConfigError,
    NotSupportedError,
    PluginError,
    TaskNotFoundError,
)
from .taskdirs import TaskDirs

SIGKILL = 9


class DriverHarness:
    """A driver under test plus the tasks it started, destroyed at teardown."""

    def __init__(self, suite: TaskDriverConformance, make_dirs: Callable[..., TaskDirs]) -> None:
        self.suite = suite
        self.driver = suite.new_driver()
        self._make_dirs = make_dirs
        self._started: list[tuple[TaskDriver, str]] = []

    async def start(self, config: dict[str, Any], driver: TaskDriver | None = None) -> TaskHandle:
        """Start a task with driver config ``config`` in fresh task directories."""
        driver = driver or self.driver
        task = self._make_dirs().task_config(config)
        handle = await driver.start_task(task)
        self._started.append((driver, task.id))
        await asyncio.sleep(self.suite.startup_grace)
        return handle

    def adopt(self, driver: TaskDriver, task_id: str) -> None:
        """Also destroy ``task_id`` through ``driver`` at teardown (after a recovery)."""
        self._started.append((driver, task_id))

    async def cleanup(self) -> None:
        for driver, task_id in reversed(self._started):
            # Already destroyed by the test, or gone with its process: both are fine here.
            with contextlib.suppress(PluginError):
                await driver.destroy_task(task_id, force=True)


class TaskDriverConformance:
    """Behaviour every :class:`TaskDriver` must have. See the module docstring."""

    driver_class: ClassVar[type[TaskDriver]]
    driver_config: ClassVar[dict[str, Any]] = {}
    #: Seconds a trapping task is given before the driver must escalate to SIGKILL.
    stop_timeout: ClassVar[float] = 0.5
    #: Seconds to let a freshly started task set itself up (install traps) before testing.
    startup_grace: ClassVar[float] = 0.0
    #: Upper bound, in seconds, on anything the suite waits for.
    patience: ClassVar[float] = 15.0

    @abstractmethod
    def config_sleep(self) -> dict[str, Any]:
        """A task config that runs for at least a minute unless stopped."""

    @abstractmethod
    def config_exit(self, code: int) -> dict[str, Any]:
        """A task config that exits at once with exit code ``code``."""

    @abstractmethod
    def config_print(self, text: str) -> dict[str, Any]:
        """A task config that prints ``text`` to stdout and exits 0."""

    @abstractmethod
    def config_trap_sigterm(self) -> dict[str, Any]:
        """A task config that ignores SIGTERM and runs until killed."""

    def exec_command(self) -> tuple[list[str], bytes]:
        """A command to exec inside the sleeping task and a byte string its stdout contains."""
        return ["echo", "conformance"], b"conformance"

    def leftovers(self, handle: TaskHandle) -> list[str]:
        """What still exists of a destroyed task (processes, containers); override to look."""
        return []

    def new_driver(self) -> TaskDriver:
        """A fresh driver instance from ``driver_config``, as the loader would build it."""
        return self.driver_class.from_config(self.driver_config)

    @pytest.fixture
    async def harness(self, tmp_task_dirs: Callable[..., TaskDirs]) -> AsyncIterator[DriverHarness]:
        harness = DriverHarness(self, tmp_task_dirs)
        try:
            yield harness
        finally:
            await harness.cleanup()

    async def _wait(self, driver: TaskDriver, task_id: str) -> ExitResult:
        return await asyncio.wait_for(driver.wait_task(task_id), self.patience)

    # -- fingerprint and config ------------------------------------------------

    async def test_fingerprint_healthy(self, harness: DriverHarness) -> None:
        fingerprint = await harness.driver.fingerprint()
        assert fingerprint.health == "healthy", fingerprint.health_description
        assert f"driver.{self.driver_class.name}" in fingerprint.attributes
        assert isinstance(harness.driver.capabilities(), Capabilities)

    def test_task_configs_are_valid(self) -> None:
        for config in (
            self.config_sleep(),
            self.config_exit(3),
            self.config_print("x"),
            self.config_trap_sigterm(),
        ):
            assert self.driver_class.validate_task_config(config) == []

    async def test_unknown_config_key_rejected(self, harness: DriverHarness) -> None:
        config = {**self.config_sleep(), "no_such_key": True}
        problems = self.driver_class.validate_task_config(config)
        assert [(p.path, p.message) for p in problems] == [(("no_such_key",), "unknown key")]
        with pytest.raises(InvalidTaskConfigError, match="no_such_key"):
            await harness.start(config)

    # -- start, wait, output ------------------------------------------------------

    async def test_exit_code_reported(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_exit(3))
        result = await self._wait(harness.driver, handle.config.id)
        assert result.exit_code == 3
        assert not result.successful

    async def test_exit_zero_is_successful(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_exit(0))
        assert (await self._wait(harness.driver, handle.config.id)).successful

    async def test_stdout_written_to_log_file(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_print("caravan says hello"))
        await self._wait(harness.driver, handle.config.id)
        deadline = time.monotonic() + self.patience
        # Log shipping may lag the exit by a moment for drivers that copy output.
        while "caravan says hello" not in _read(handle.config.stdout_path):
            assert time.monotonic() < deadline, "stdout never reached the log file"
            await asyncio.sleep(0.05)

    async def test_concurrent_waiters_see_same_result(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_exit(4))
        first, second = await asyncio.gather(
            self._wait(harness.driver, handle.config.id),
            self._wait(harness.driver, handle.config.id),
        )
        assert first == second
        assert first.exit_code == 4

    async def test_handle_is_json_serialisable(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_sleep())
        assert TaskHandle.model_validate_json(handle.model_dump_json()) == handle

    # -- inspect, stats, signal, exec ---------------------------------------------

    async def test_inspect_running_then_exited(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_sleep())
        task_id = handle.config.id
        status = await harness.driver.inspect_task(task_id)
        assert status.state == "running"
        assert status.id == task_id
        await harness.driver.stop_task(task_id, timeout=self.patience)
        await self._wait(harness.driver, task_id)
        status = await harness.driver.inspect_task(task_id)
        assert status.state == "exited"
        assert status.exit_result is not None

    async def test_stats_of_running_task(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_sleep())
        usage = await harness.driver.task_stats(handle.config.id)
        assert isinstance(usage, TaskResourceUsage)
        assert usage.cpu.percent >= 0 and usage.memory.rss >= 0

    async def test_signal_delivered(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_trap_sigterm())
        task_id = handle.config.id
        if not harness.driver.capabilities().send_signals:
            with pytest.raises(NotSupportedError):
                await harness.driver.signal_task(task_id, "SIGTERM")
            return
        await harness.driver.signal_task(task_id, "SIGTERM")
        await asyncio.sleep(0.1)
        assert (await harness.driver.inspect_task(task_id)).state == "running"
        with pytest.raises(TaskNotFoundError):
            await harness.driver.signal_task("no-such-task", "SIGTERM")

    async def test_exec_in_task(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_sleep())
        cmd, expected = self.exec_command()
        if not harness.driver.capabilities().exec:
            with pytest.raises(NotSupportedError):
                await harness.driver.exec_task(handle.config.id, cmd, timeout=self.patience)
            return
        result = await harness.driver.exec_task(handle.config.id, cmd, timeout=self.patience)
        assert result.exit_result.exit_code == 0
        assert expected in result.stdout

    # -- stop and destroy -----------------------------------------------------------

    async def test_stop_running_task(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_sleep())
        started = time.monotonic()
        await harness.driver.stop_task(handle.config.id, timeout=self.patience)
        assert time.monotonic() - started < self.patience
        assert (await harness.driver.inspect_task(handle.config.id)).state == "exited"

    async def test_stop_escalates_to_sigkill(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_trap_sigterm())
        started = time.monotonic()
        await harness.driver.stop_task(handle.config.id, timeout=self.stop_timeout)
        took = time.monotonic() - started
        assert self.stop_timeout * 0.9 <= took < self.stop_timeout + 5
        result = await self._wait(harness.driver, handle.config.id)
        assert result.signal == SIGKILL or result.exit_code == 128 + SIGKILL, result

    async def test_destroy_leaves_nothing_behind(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_sleep())
        await harness.driver.destroy_task(handle.config.id, force=True)
        with pytest.raises(TaskNotFoundError):
            await harness.driver.inspect_task(handle.config.id)
        assert self.leftovers(handle) == []

    async def test_destroy_running_task_needs_force(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_sleep())
        with pytest.raises(DriverError):
            await harness.driver.destroy_task(handle.config.id, force=False)
        assert (await harness.driver.inspect_task(handle.config.id)).state == "running"

    async def test_unknown_task_id(self, harness: DriverHarness) -> None:
        with pytest.raises(TaskNotFoundError):
            await harness.driver.wait_task("no-such-task")
        with pytest.raises(TaskNotFoundError):
            await harness.driver.inspect_task("no-such-task")

    # -- recovery -------------------------------------------------------------------

    async def test_recover_after_driver_recreated(self, harness: DriverHarness) -> None:
        handle = await harness.start(self.config_sleep())
        persisted = handle.model_dump_json()
        recreated = self.new_driver()
        restored = TaskHandle.model_validate_json(persisted)
        await recreated.recover_task(restored)
        harness.adopt(recreated, handle.config.id)
        assert (await recreated.inspect_task(handle.config.id)).state == "running"
        await recreated.stop_task(handle.config.id, timeout=self.patience)
        await self._wait(recreated, handle.config.id)
        assert (await recreated.inspect_task(handle.config.id)).state == "exited"


def _read(path: Any) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
