"""The mock driver: the shared driver conformance suite, then its own config keys."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from caravan_plugins import DriverError, TaskHandle
from caravan_plugins.mock_driver import MockDriver
from caravan_plugins.testing import TaskDirs, TaskDriverConformance


class TestMockDriverConformance(TaskDriverConformance):
    driver_class = MockDriver
    driver_config: dict[str, Any] = {}

    def config_sleep(self) -> dict[str, Any]:
        return {"run_for": "10m"}

    def config_exit(self, code: int) -> dict[str, Any]:
        return {"run_for": "1ms", "exit_code": code}

    def config_print(self, text: str) -> dict[str, Any]:
        return {"run_for": "20ms", "stdout_string": text}

    def config_trap_sigterm(self) -> dict[str, Any]:
        return {"kill_after": "1h"}


@pytest.fixture
def driver() -> MockDriver:
    return MockDriver.from_config({})


@pytest.fixture
def dirs(tmp_task_dirs: Callable[..., TaskDirs]) -> TaskDirs:
    return tmp_task_dirs("web")


async def test_runs_for_then_exits_as_configured(driver: MockDriver, dirs: TaskDirs) -> None:
    config = {"run_for": "50ms", "exit_code": 2, "exit_signal": 6, "exit_err_msg": "boom"}
    started = time.monotonic()
    handle = await driver.start_task(dirs.task_config(config))
    result = await driver.wait_task(handle.config.id)
    assert time.monotonic() - started >= 0.045
    assert (result.exit_code, result.signal, result.err) == (2, 6, "boom")


async def test_start_error_fails_start(driver: MockDriver, dirs: TaskDirs) -> None:
    with pytest.raises(DriverError, match="image not found"):
        await driver.start_task(dirs.task_config({"start_error": "image not found"}))


async def test_start_block_for_delays_start(driver: MockDriver, dirs: TaskDirs) -> None:
    started = time.monotonic()
    await driver.start_task(dirs.task_config({"start_block_for": "60ms"}))
    assert time.monotonic() - started >= 0.055


async def test_kill_after_shorter_than_timeout_exits_with_stop_signal(
    driver: MockDriver, dirs: TaskDirs
) -> None:
    handle = await driver.start_task(dirs.task_config({"kill_after": "30ms"}))
    await driver.stop_task(handle.config.id, timeout=5, signal="SIGINT")
    assert (await driver.wait_task(handle.config.id)).signal == 2


async def test_stdout_repeat(driver: MockDriver, dirs: TaskDirs) -> None:
    config = {
        "run_for": "100ms",
        "stdout_string": "tick\n",
        "stdout_repeat": 3,
        "stdout_repeat_duration": "20ms",
        "stderr_string": "oops\n",
    }
    handle = await driver.start_task(dirs.task_config(config))
    await driver.wait_task(handle.config.id)
    assert dirs.stdout_path.read_text() == "tick\n" * 3
    assert dirs.stderr_path.read_text() == "oops\n"


async def test_signal_error(driver: MockDriver, dirs: TaskDirs) -> None:
    handle = await driver.start_task(dirs.task_config({"signal_error": "cannot handle HUP"}))
    with pytest.raises(DriverError, match="cannot handle HUP"):
        await driver.signal_task(handle.config.id, "SIGHUP")
    await driver.destroy_task(handle.config.id, force=True)


async def test_recovered_task_ends_when_originally_due(dirs: TaskDirs) -> None:
    first = MockDriver()
    handle = await first.start_task(dirs.task_config({"run_for": "150ms", "exit_code": 5}))
    await first.destroy_task(handle.config.id, force=True)
    await asyncio.sleep(0.05)
    second = MockDriver()
    await second.recover_task(TaskHandle.model_validate_json(handle.model_dump_json()))
    started = time.monotonic()
    result = await second.wait_task(handle.config.id)
    assert 0.05 <= time.monotonic() - started < 0.14
    assert result.exit_code == 5


async def test_recovered_task_does_not_repeat_output(dirs: TaskDirs) -> None:
    first = MockDriver()
    config = {"run_for": "60ms", "stdout_string": "once\n"}
    handle = await first.start_task(dirs.task_config(config))
    await asyncio.sleep(0.01)
    await first.destroy_task(handle.config.id, force=True)
    second = MockDriver()
    await second.recover_task(handle)
    await second.wait_task(handle.config.id)
    assert dirs.stdout_path.read_text() == "once\n"


async def test_recover_without_start_time_fails(driver: MockDriver, dirs: TaskDirs) -> None:
    handle = TaskHandle(config=dirs.task_config({}), driver_state={})
    with pytest.raises(DriverError, match="no start time"):
        await driver.recover_task(handle)


def test_bad_duration_named_in_problem() -> None:
    (problem,) = MockDriver.validate_task_config({"run_for": "ten seconds"})
    assert problem.path == ("run_for",)
    assert 'invalid duration "ten seconds"' in problem.message


def test_plugin_config_fs_isolation() -> None:
    assert MockDriver.from_config({"fs_isolation": "image"}).capabilities().fs_isolation == "image"
