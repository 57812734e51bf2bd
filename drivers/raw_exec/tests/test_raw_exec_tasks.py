"""What a raw_exec user sees beyond the conformance suite: environment, working directory,
output files, process trees, signals, exec, recovery and the disabled default."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from caravan_driver_raw_exec.driver import RawExecDriver

from caravan_plugins import DriverError, TaskConfig, TaskHandle
from caravan_plugins.process import read_stat
from caravan_plugins.testing import TaskDirs

PATIENCE = 10.0

#: A task that notes when its SIGHUP trap is set, and writes local/got when it is hit.
TRAP_HUP = "trap 'echo hup > local/got' HUP; echo set > local/trap; while :; do sleep 0.05; done"


@pytest.fixture
async def driver() -> AsyncIterator[RawExecDriver]:
    driver = RawExecDriver.from_config({"enabled": True})
    yield driver
    for task_id in list(driver._tasks):
        await driver.destroy_task(task_id, force=True)


@pytest.fixture
def task_for(tmp_task_dirs: Callable[..., TaskDirs]) -> Callable[..., TaskConfig]:
    def make(config: dict[str, Any], env: dict[str, str] | None = None) -> TaskConfig:
        return tmp_task_dirs().task_config(config, env=env)

    return make


def shell(script: str) -> dict[str, Any]:
    return {"command": "sh", "args": ["-c", script]}


async def run_to_exit(driver: RawExecDriver, task: TaskConfig) -> None:
    await driver.start_task(task)
    await asyncio.wait_for(driver.wait_task(task.id), PATIENCE)


async def wait_for_file(path: Path) -> str:
    for _ in range(int(PATIENCE / 0.02)):
        if path.exists() and path.read_text().strip():
            return path.read_text()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} was never written")


def running(pid: int) -> bool:
    stat = read_stat(pid)
    return stat is not None and stat.alive


async def test_env_reaches_the_process(driver: RawExecDriver, task_for: Callable) -> None:
    task = task_for(shell('echo "$GREETING from $NOMAD_TASK_NAME"'), env={"GREETING": "hello"})
    await run_to_exit(driver, task)
    assert task.stdout_path.read_text() == "hello from task\n"


async def test_work_dir_defaults_to_task_dir(driver: RawExecDriver, task_for: Callable) -> None:
    task = task_for({"command": "pwd"})
    await run_to_exit(driver, task)
    assert task.stdout_path.read_text().strip() == str(task.task_dir)


async def test_relative_work_dir_is_inside_task_dir(
    driver: RawExecDriver, task_for: Callable
) -> None:
    task = task_for({"command": "pwd", "work_dir": "local"})
    await run_to_exit(driver, task)
    assert task.stdout_path.read_text().strip() == str(task.local_dir)


async def test_stderr_goes_to_stderr_file(driver: RawExecDriver, task_for: Callable) -> None:
    task = task_for(shell("echo out; echo oops >&2; exit 2"))
    await run_to_exit(driver, task)
    assert task.stdout_path.read_text() == "out\n"
    assert task.stderr_path.read_text() == "oops\n"
    assert (await driver.inspect_task(task.id)).exit_result.exit_code == 2


async def test_command_relative_to_task_dir(driver: RawExecDriver, task_for: Callable) -> None:
    task = task_for({"command": "local/run.sh", "args": ["a", "b"]})
    script = task.local_dir / "run.sh"
    script.write_text('#!/bin/sh\necho "args: $*"\n')
    script.chmod(0o755)
    await run_to_exit(driver, task)
    assert task.stdout_path.read_text() == "args: a b\n"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"command": "no-such-program-anywhere"}, "not found on the task's PATH"),
        ({"command": "local/missing.sh"}, "is not an executable file"),
        ({"command": "true", "work_dir": "nope"}, "is not a directory"),
    ],
)
async def test_start_errors_say_what_is_wrong(
    driver: RawExecDriver, task_for: Callable, config: dict, message: str
) -> None:
    with pytest.raises(DriverError, match=message):
        await driver.start_task(task_for(config))


async def test_stop_kills_the_whole_process_tree(driver: RawExecDriver, task_for: Callable) -> None:
    # The grandchild ignores SIGTERM and outlives the shell, so only a kill of the
    # task's whole process group after the shell exits can end it.
    task = task_for(
        shell("sh -c 'trap \"\" TERM; sleep 60' & echo $! > local/child.pid; sleep 60 & wait")
    )
    await driver.start_task(task)
    child = int(await wait_for_file(task.local_dir / "child.pid"))
    assert running(child)
    await driver.stop_task(task.id, timeout=PATIENCE)
    assert (await driver.inspect_task(task.id)).exit_result.signal == 15
    assert not running(child)


async def test_signal_reaches_the_task(driver: RawExecDriver, task_for: Callable) -> None:
    task = task_for(shell(TRAP_HUP))
    await driver.start_task(task)
    # Signal only once the shell has set its trap: before that, SIGHUP ends it.
    await wait_for_file(task.local_dir / "trap")
    await driver.signal_task(task.id, "SIGHUP")
    assert (await wait_for_file(task.local_dir / "got")) == "hup\n"
    with pytest.raises(DriverError, match="unknown signal"):
        await driver.signal_task(task.id, "SIGNOPE")


async def test_exec_runs_in_task_environment(driver: RawExecDriver, task_for: Callable) -> None:
    task = task_for({"command": "sleep", "args": ["60"], "work_dir": "local"}, env={"WHO": "me"})
    await driver.start_task(task)
    result = await driver.exec_task(task.id, ["sh", "-c", 'echo "$WHO in $PWD"; exit 3'], 5)
    assert result.stdout == f"me in {task.local_dir}\n".encode()
    assert result.exit_result.exit_code == 3


async def test_exec_is_killed_after_timeout(driver: RawExecDriver, task_for: Callable) -> None:
    task = task_for({"command": "sleep", "args": ["60"]})
    await driver.start_task(task)
    result = await driver.exec_task(task.id, ["sleep", "30"], timeout=0.2)
    assert result.exit_result.err == "command timed out after 0.2s"
    assert not result.exit_result.successful


async def test_stats_count_the_task_processes(driver: RawExecDriver, task_for: Callable) -> None:
    task = task_for(shell("sleep 60 & sleep 60 & wait"))
    await driver.start_task(task)
    await asyncio.sleep(0.1)
    usage = await driver.task_stats(task.id)
    assert usage.memory.rss > 0
    assert usage.cpu.percent >= 0
    assert "RSS" in usage.memory.measured


async def test_oom_score_adj_is_applied(driver: RawExecDriver, task_for: Callable) -> None:
    task = task_for({"command": "sleep", "args": ["60"], "oom_score_adj": 700})
    handle = await driver.start_task(task)
    pid = handle.driver_state["pid"]
    assert Path(f"/proc/{pid}/oom_score_adj").read_text().strip() == "700"


async def test_recovered_task_can_be_stopped(driver: RawExecDriver, task_for: Callable) -> None:
    task = task_for(shell("sleep 60 & echo $! > local/child.pid; wait"))
    handle = await driver.start_task(task)
    child = int(await wait_for_file(task.local_dir / "child.pid"))

    restarted = RawExecDriver.from_config({"enabled": True})
    await restarted.recover_task(TaskHandle.model_validate_json(handle.model_dump_json()))
    status = await restarted.inspect_task(task.id)
    assert status.state == "running"
    assert status.started_at == (await driver.inspect_task(task.id)).started_at
    assert (await restarted.task_stats(task.id)).memory.rss > 0

    await restarted.stop_task(task.id, timeout=PATIENCE)
    result = await asyncio.wait_for(restarted.wait_task(task.id), PATIENCE)
    # A recovered task is not the new driver's child, so its exit code is unknowable.
    assert result.err and not result.successful
    assert not running(child)
    await restarted.destroy_task(task.id)


async def test_recover_refuses_a_recycled_pid(driver: RawExecDriver, task_for: Callable) -> None:
    handle = await driver.start_task(task_for({"command": "sleep", "args": ["60"]}))
    stale = handle.model_copy(update={"driver_state": {**handle.driver_state, "start_time": 1}})
    with pytest.raises(DriverError, match="no longer running"):
        await RawExecDriver.from_config({"enabled": True}).recover_task(stale)


async def test_disabled_driver_runs_nothing(task_for: Callable) -> None:
    driver = RawExecDriver.from_config({})
    fingerprint = await driver.fingerprint()
    assert (fingerprint.health, fingerprint.health_description) == ("undetected", "disabled")
    assert fingerprint.attributes == {}
    with pytest.raises(DriverError, match="enabled = true"):
        await driver.start_task(task_for({"command": "true"}))


async def test_enabled_fingerprint_sets_attribute(driver: RawExecDriver) -> None:
    fingerprint = await driver.fingerprint()
    assert fingerprint.health == "healthy"
    assert fingerprint.attributes == {"driver.raw_exec": "1"}


async def test_a_signal_the_agent_ignores_still_reaches_the_task(
    driver: RawExecDriver, task_for: Callable
) -> None:
    """An agent started under ``nohup`` ignores SIGHUP; its tasks must not inherit that."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        task = task_for(shell(TRAP_HUP))
        await driver.start_task(task)
    finally:
        signal.signal(signal.SIGHUP, previous)
    await wait_for_file(task.local_dir / "trap")
    await driver.signal_task(task.id, "SIGHUP")
    assert (await wait_for_file(task.local_dir / "got")) == "hup\n"
