"""Watching host processes the agent did not start: exit through a pidfd, process groups."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

from caravan_plugins.process import group_exists, read_stat, wait_for_exit


async def test_wait_for_exit_returns_when_the_process_ends() -> None:
    process = subprocess.Popen(["sleep", "0.3"], start_new_session=True)
    try:
        stat = read_stat(process.pid)
        assert stat is not None
        waiter = asyncio.ensure_future(wait_for_exit(process.pid, stat.start_time))
        await asyncio.sleep(0.1)
        assert not waiter.done()
        await asyncio.wait_for(waiter, 5)
    finally:
        process.wait()


async def test_wait_for_exit_of_a_recycled_or_gone_pid_returns_at_once() -> None:
    process = subprocess.Popen(["sleep", "5"], start_new_session=True)
    try:
        stat = read_stat(process.pid)
        assert stat is not None
        # Another start time: the pid now names some other process.
        await asyncio.wait_for(wait_for_exit(process.pid, stat.start_time + 1), 1)
    finally:
        process.kill()
        process.wait()
    await asyncio.wait_for(wait_for_exit(process.pid, stat.start_time), 1)


def test_group_exists_while_any_member_runs() -> None:
    leader = subprocess.Popen(["sh", "-c", "sleep 5 & exit 0"], start_new_session=True)
    leader.wait()
    # The leader is gone; the sleep it forked keeps the group alive.
    assert group_exists(leader.pid)
    os.killpg(leader.pid, signal.SIGKILL)
    for _ in range(250):
        if not group_exists(leader.pid):
            break
        time.sleep(0.02)
    assert not group_exists(leader.pid)
