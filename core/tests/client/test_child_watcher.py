"""Task processes are watched by pidfds on the agent's loop, not by a thread per process."""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sys
import threading

import pytest

from caravan_plugins import process_children
from caravan_plugins.process_children import install_child_watcher

from .conftest import eventually, raw_job

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="asyncio itself waits through pidfds from 3.12"
)


def waiter_threads() -> int:
    """Threads asyncio started to wait for one child each (it names them ``asyncio-waitpid-N``)."""
    return sum(1 for t in threading.enumerate() if t.name.startswith("asyncio-waitpid-"))


@pytest.fixture(autouse=True)
def pidfd_watcher() -> None:
    install_child_watcher()
    watcher = asyncio.get_event_loop_policy().get_child_watcher()
    assert isinstance(watcher, process_children.PidfdChildWatcher)


def test_installing_again_changes_nothing() -> None:
    watcher = asyncio.get_event_loop_policy().get_child_watcher()
    assert install_child_watcher() is False
    assert asyncio.get_event_loop_policy().get_child_watcher() is watcher


async def test_exit_codes_and_signals_are_reported() -> None:
    exits = await asyncio.create_subprocess_exec("sh", "-c", "exit 3")
    assert await exits.wait() == 3
    sleeper = await asyncio.create_subprocess_exec("sleep", "30")
    sleeper.send_signal(signal.SIGKILL)
    assert await sleeper.wait() == -signal.SIGKILL


async def test_output_is_collected() -> None:
    proc = await asyncio.create_subprocess_exec("echo", "hello", stdout=asyncio.subprocess.PIPE)
    stdout, _ = await proc.communicate()
    assert stdout == b"hello\n" and proc.returncode == 0


async def test_running_processes_hold_no_thread_each() -> None:
    procs = [await asyncio.create_subprocess_exec("sleep", "30") for _ in range(20)]
    try:
        assert waiter_threads() == 0
    finally:
        for proc in procs:
            proc.kill()
        codes = await asyncio.gather(*(proc.wait() for proc in procs))
    assert codes == [-signal.SIGKILL] * 20


async def test_without_a_pidfd_a_thread_waits(monkeypatch) -> None:
    def refuse(pid: int, flags: int = 0) -> int:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(os, "pidfd_open", refuse)
    proc = await asyncio.create_subprocess_exec("sleep", "30")
    assert waiter_threads() == 1
    proc.terminate()
    assert await proc.wait() == -signal.SIGTERM


async def test_many_tasks_run_without_a_thread_each(client, server) -> None:
    allocs = [await server.place(raw_job(f"sleeper-{i}", "sleep", ["30"])) for i in range(10)]
    for alloc in allocs:
        await eventually(lambda a=alloc: server.allocs[a.id].client_status == "running")
    assert waiter_threads() == 0
