"""What a pycall user sees: exit codes, output, arguments, paths, errors and fingerprints."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from caravan_driver_pycall.driver import PycallDriver

from caravan_plugins import DriverError, ExitResult, PluginRegistry, TaskHandle
from caravan_plugins.testing import TaskDirs

TASKS = str(Path(__file__).parent / "tasks")


@pytest.fixture
async def driver() -> AsyncIterator[PycallDriver]:
    driver = PycallDriver.from_config({"enabled": True})
    yield driver
    for task_id in list(driver._tasks):
        await driver.destroy_task(task_id, force=True)


async def run(
    driver: PycallDriver,
    dirs: TaskDirs,
    config: dict[str, Any],
    env: dict[str, str] | None = None,
) -> tuple[ExitResult, str, str]:
    handle: TaskHandle = await driver.start_task(dirs.task_config(config, env=env))
    result = await asyncio.wait_for(driver.wait_task(handle.config.id), 15)
    return result, dirs.stdout_path.read_text(), dirs.stderr_path.read_text()


async def test_returning_none_exits_zero_with_output(
    driver: PycallDriver, tmp_task_dirs: Callable[..., TaskDirs]
) -> None:
    config = {
        "callable": "pycall_tasks:greet",
        "args": ["caravan"],
        "kwargs": {"punctuation": "?"},
        "python_path": [TASKS],
    }
    result, out, err = await run(driver, tmp_task_dirs(), config)
    assert result.successful
    assert out == "hello caravan?\n"
    assert err == "greeted\n"


async def test_exception_exits_one_with_traceback(
    driver: PycallDriver, tmp_task_dirs: Callable[..., TaskDirs]
) -> None:
    config = {"callable": "pycall_tasks:fail", "args": ["disk full"], "python_path": [TASKS]}
    result, _, err = await run(driver, tmp_task_dirs(), config)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: disk full" in err


async def test_returned_int_is_exit_code_and_methods_resolve(
    driver: PycallDriver, tmp_task_dirs: Callable[..., TaskDirs]
) -> None:
    config = {"callable": "pycall_tasks:Jobs.answer", "python_path": [TASKS]}
    result, _, _ = await run(driver, tmp_task_dirs(), config)
    assert result.exit_code == 42


async def test_sys_exit_code_is_kept(
    driver: PycallDriver, tmp_task_dirs: Callable[..., TaskDirs]
) -> None:
    result, _, _ = await run(driver, tmp_task_dirs(), {"callable": "sys:exit", "args": [7]})
    assert result.exit_code == 7


async def test_missing_module_fails_the_task(
    driver: PycallDriver, tmp_task_dirs: Callable[..., TaskDirs]
) -> None:
    result, _, err = await run(driver, tmp_task_dirs(), {"callable": "no_such_module:main"})
    assert result.exit_code == 1
    assert "ModuleNotFoundError: No module named 'no_such_module'" in err


async def test_relative_python_path_and_env_and_cwd(
    driver: PycallDriver, tmp_task_dirs: Callable[..., TaskDirs]
) -> None:
    dirs = tmp_task_dirs()
    (dirs.local_dir / "src").mkdir()
    shutil.copy(Path(TASKS) / "pycall_tasks.py", dirs.local_dir / "src" / "pycall_tasks.py")
    config = {
        "callable": "pycall_tasks:show_env",
        "args": ["GREETING"],
        "python_path": ["local/src"],
    }
    result, out, _ = await run(driver, dirs, config, env={"GREETING": "hi there"})
    assert result.successful
    assert out.splitlines() == ["hi there", str(dirs.task_dir)]


def test_bad_callable_rejected_at_submit() -> None:
    problems = PycallDriver.validate_task_config({"callable": "reports.nightly"})
    assert [str(p) for p in problems] == [
        "callable: 'reports.nightly' is not of the form module:function"
    ]
    assert [str(p) for p in PycallDriver.validate_task_config({})] == [
        "callable: required key is missing"
    ]


async def test_disabled_by_default(tmp_task_dirs: Callable[..., TaskDirs]) -> None:
    driver = PycallDriver.from_config({})
    assert (await driver.fingerprint()).health == "undetected"
    with pytest.raises(DriverError, match='set enabled = true in plugin "pycall"'):
        await driver.start_task(tmp_task_dirs().task_config({"callable": "time:sleep"}))


async def test_fingerprint_reports_python_version() -> None:
    fingerprint = await PycallDriver.from_config({"enabled": True}).fingerprint()
    assert fingerprint.health == "healthy"
    assert fingerprint.attributes["driver.pycall"] == "1"
    assert fingerprint.attributes["driver.pycall.python_version"].startswith("3.")


async def test_missing_interpreter_is_unhealthy() -> None:
    driver = PycallDriver.from_config({"enabled": True, "python": "/nonexistent/python"})
    fingerprint = await driver.fingerprint()
    assert fingerprint.health == "unhealthy"
    assert "/nonexistent/python" in fingerprint.health_description


def test_agent_config_typo_reported_by_loader() -> None:
    registry = PluginRegistry.make_test_instance(
        drivers=[PycallDriver], configs={"pycall": {"enabeld": True}}
    )
    (error,) = registry.errors
    assert str(error) == "plugin 'pycall' (caravan.drivers): config: enabeld: unknown key"
