"""What a user of the exec driver relies on: the task sees only itself, its root is the
chroot, its memory limit holds, its capabilities are Nomad's, and nothing outlives it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from caravan_driver_exec.cgroups import task_cgroup
from caravan_driver_exec.driver import ExecDriver
from caravan_driver_exec.testing import leftovers_of

from caravan_plugins import (
    DriverError,
    ExitResult,
    InvalidTaskConfigError,
    TaskConfig,
    TaskHandle,
    TaskResources,
)
from caravan_plugins.capabilities import CAPABILITY_NUMBERS, DEFAULT_ALLOW_CAPS

PATIENCE = 15.0


@pytest.fixture
async def driver() -> AsyncIterator[ExecDriver]:
    driver = ExecDriver.from_config({})
    yield driver
    for task_id in list(driver._tasks):
        await driver.destroy_task(task_id, force=True)


@pytest.fixture
def task_for(tmp_task_dirs: Callable) -> Callable[..., TaskConfig]:
    def make(config: dict, **options: object) -> TaskConfig:
        return tmp_task_dirs().task_config(config, **options)

    return make


def shell(script: str, **extra: object) -> dict:
    return {"command": "/bin/sh", "args": ["-c", script], **extra}


async def run(driver: ExecDriver, task: TaskConfig) -> tuple[ExitResult, str]:
    await driver.start_task(task)
    result = await asyncio.wait_for(driver.wait_task(task.id), PATIENCE)
    return result, task.stdout_path.read_text()


def cap_mask(names: list[str]) -> int:
    return sum(1 << CAPABILITY_NUMBERS[name] for name in names)


async def test_task_sees_only_its_own_processes(driver: ExecDriver, task_for: Callable) -> None:
    result, out = await run(driver, task_for(shell("echo $$; ls /proc | grep '^[0-9]'")))
    assert result.successful
    shell_pid, *visible = out.split()
    # PID 1 is the task's init (it forwards signals), the shell is PID 2, then ls and grep.
    assert shell_pid == "2"
    assert set(visible) <= {"1", "2", "3", "4"}


async def test_host_pid_mode_shares_the_host_pids(driver: ExecDriver, task_for: Callable) -> None:
    result, out = await run(driver, task_for(shell("echo $$", pid_mode="host")))
    assert result.successful and int(out) > 2


async def test_root_is_the_chroot(driver: ExecDriver, task_for: Callable, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("host only")
    task = task_for(
        shell(
            f"test -e {secret} && echo visible || echo hidden; cat /etc/hostname; "
            "cat /alloc/data/shared; ls /local; touch /usr/x 2>/dev/null || echo read-only"
        )
    )
    (task.alloc_dir / "alloc" / "data" / "shared").write_text("from the alloc\n")
    (task.local_dir / "mine").write_text("")
    result, out = await run(driver, task)
    assert result.successful
    assert out.splitlines() == [
        "hidden",
        socket.gethostname(),
        "from the alloc",
        "mine",
        "read-only",
    ]


async def test_runs_as_nobody_with_no_capabilities_by_default(
    driver: ExecDriver, task_for: Callable
) -> None:
    result, out = await run(driver, task_for(shell("id -u; grep CapEff /proc/self/status")))
    assert result.successful
    uid, _, eff = out.split()
    assert (uid, int(eff, 16)) == ("65534", 0)


async def test_root_task_gets_nomad_default_capabilities(
    driver: ExecDriver, task_for: Callable
) -> None:
    task = task_for(shell("grep CapBnd /proc/self/status", cap_drop=["chown"]), name="rooted")
    task = task.model_copy(update={"user": "root"})
    result, out = await run(driver, task)
    expected = cap_mask([c for c in DEFAULT_ALLOW_CAPS if c != "chown"])
    assert result.successful and int(out.split()[1], 16) == expected


async def test_cap_add_outside_allow_caps_is_rejected(
    driver: ExecDriver, task_for: Callable
) -> None:
    task = task_for({"command": "true", "cap_add": ["chown", "net_admin"]})
    with pytest.raises(InvalidTaskConfigError) as err:
        await driver.start_task(task)
    assert "cap_add[1]: capability 'net_admin' is not in allow_caps of plugin 'exec'" in str(
        err.value
    )
    assert not task_cgroup(task.id.replace("/", "-"), 1).exists()


async def test_allowed_cap_add_is_granted(task_for: Callable) -> None:
    driver = ExecDriver.from_config({"allow_caps": [*DEFAULT_ALLOW_CAPS, "net_raw"]})
    task = task_for(shell("grep CapEff /proc/self/status", cap_add=["net_raw"]))
    result, out = await run(driver, task)
    await driver.destroy_task(task.id)
    assert result.successful and int(out.split()[1], 16) == cap_mask(["net_raw"])


async def test_memory_limit_kills_the_task(driver: ExecDriver, task_for: Callable) -> None:
    hog = "x = []\nwhile True:\n    x.append(bytearray(1 << 20))\n"
    task = task_for(
        {"command": "python3", "args": ["-c", hog]},
        resources=TaskResources(cpu=250, memory_mb=32),
    )
    handle = await driver.start_task(task)
    cgroup = task_cgroup(handle.driver_state["cgroup"], handle.driver_state["cgroup_version"])
    memory = cgroup.directories()[0]
    assert (memory / "memory.limit_in_bytes").read_text().strip() == str(32 * 1024 * 1024)
    result = await asyncio.wait_for(driver.wait_task(task.id), PATIENCE)
    assert result.oom_killed and result.signal == 9, task.stderr_path.read_text()
    assert not result.successful


async def test_stats_come_from_the_cgroup(driver: ExecDriver, task_for: Callable) -> None:
    task = task_for({"command": "sleep", "args": ["60"]})
    await driver.start_task(task)
    usage = await driver.task_stats(task.id)
    assert usage.memory.usage > 0
    assert "Max Usage" in usage.memory.measured


async def test_exec_runs_inside_the_task(driver: ExecDriver, task_for: Callable) -> None:
    task = task_for({"command": "sleep", "args": ["60"]})
    await driver.start_task(task)
    result = await driver.exec_task(task.id, ["sh", "-c", "ls /proc | grep -c '^[0-9]'; id -u"], 5)
    count, uid = result.stdout.decode().split()
    assert result.exit_result.exit_code == 0
    assert int(count) <= 5 and uid == "65534"


async def test_missing_command_is_reported(driver: ExecDriver, task_for: Callable) -> None:
    task = task_for({"command": "no-such-program"})
    with pytest.raises(DriverError, match="cannot run 'no-such-program'"):
        await driver.start_task(task)
    assert not list(task.task_dir.glob("usr"))


async def test_destroy_leaves_no_process_mount_or_cgroup(
    driver: ExecDriver, task_for: Callable
) -> None:
    task = task_for(shell("sleep 60 & sleep 60 & wait"))
    handle: TaskHandle = await driver.start_task(task)
    assert leftovers_of(handle) != []
    await driver.destroy_task(task.id, force=True)
    assert leftovers_of(handle) == []
    assert sorted(p.name for p in task.task_dir.iterdir()) == ["local", "private", "secrets", "tmp"]
