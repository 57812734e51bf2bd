"""After a client restart the exec driver knows how a task ended, even one that ended while
no agent watched it: its executor records the program's exit before exiting itself."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from caravan_driver_exec.driver import ExecDriver

from caravan_plugins import TaskConfig, TaskHandle
from caravan_plugins.process import is_same_process

PATIENCE = 15.0


@pytest.fixture
async def drivers() -> AsyncIterator[list[ExecDriver]]:
    made: list[ExecDriver] = []
    yield made
    for driver in made:
        for task_id in list(driver._tasks):
            await driver.destroy_task(task_id, force=True)


def new_driver(drivers: list[ExecDriver]) -> ExecDriver:
    driver = ExecDriver.from_config({})
    drivers.append(driver)
    return driver


def shell(tmp_task_dirs: Callable, script: str) -> TaskConfig:
    return tmp_task_dirs().task_config({"command": "/bin/sh", "args": ["-c", script]})


def copy(handle: TaskHandle) -> TaskHandle:
    """The handle as a new agent reads it back from its state database."""
    return TaskHandle.model_validate_json(handle.model_dump_json())


async def gone(handle: TaskHandle) -> None:
    state = handle.driver_state
    while is_same_process(int(state["pid"]), int(state["start_time"])):
        await asyncio.sleep(0.02)


async def test_exit_while_no_driver_watched_reports_its_code(
    drivers: list[ExecDriver], tmp_task_dirs: Callable
) -> None:
    task = shell(tmp_task_dirs, "sleep 0.3; exit 7")
    handle = await new_driver(drivers).start_task(task)
    await asyncio.wait_for(gone(handle), PATIENCE)

    recovered = new_driver(drivers)
    await recovered.recover_task(copy(handle))
    result = await asyncio.wait_for(recovered.wait_task(task.id), PATIENCE)
    assert (result.exit_code, result.signal, result.err) == (7, 0, None)
    assert (await recovered.inspect_task(task.id)).state == "exited"


async def test_exit_after_reattaching_reports_its_code(
    drivers: list[ExecDriver], tmp_task_dirs: Callable
) -> None:
    task = shell(tmp_task_dirs, "sleep 0.5; exit 4")
    handle = await new_driver(drivers).start_task(task)

    recovered = new_driver(drivers)
    await recovered.recover_task(copy(handle))
    assert (await recovered.inspect_task(task.id)).state == "running"
    result = await asyncio.wait_for(recovered.wait_task(task.id), PATIENCE)
    assert result.exit_code == 4


async def test_killed_by_a_signal_while_unwatched(
    drivers: list[ExecDriver], tmp_task_dirs: Callable
) -> None:
    task = shell(tmp_task_dirs, "kill -TERM $$; sleep 5")
    handle = await new_driver(drivers).start_task(task)
    await asyncio.wait_for(gone(handle), PATIENCE)

    recovered = new_driver(drivers)
    await recovered.recover_task(copy(handle))
    result = await asyncio.wait_for(recovered.wait_task(task.id), PATIENCE)
    assert (result.exit_code, result.signal) == (128 + signal.SIGTERM, signal.SIGTERM)


async def test_exit_record_lives_outside_the_chroot_and_goes_with_the_task(
    drivers: list[ExecDriver], tmp_task_dirs: Callable
) -> None:
    task = shell(tmp_task_dirs, "exit 0")
    driver = new_driver(drivers)
    handle = await driver.start_task(task)
    await asyncio.wait_for(driver.wait_task(task.id), PATIENCE)
    record = Path(handle.driver_state["exit_file"])
    assert record.read_text() == "0"
    assert not record.is_relative_to(task.task_dir)
    await driver.destroy_task(task.id)
    assert not record.exists()
