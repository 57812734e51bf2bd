"""What a task's history looks like across an agent restart: its restart count carries on
against the restart policy, and a task that ended while no agent watched it is reported with
the exit code its driver recorded, then goes through the restart policy as usual."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from caravan.client import Client
from caravan.client.restarts import RestartTracker
from caravan.structs.policies import RestartPolicy

from .conftest import client_config, event_types, eventually, registry
from .fakes import FakeServer

SECOND = 10**9


def mock_job(job_id: str, config: dict[str, Any], attempts: int) -> dict[str, Any]:
    """A one-task mock service job restarting ``attempts`` times, 10 ms apart."""
    policy = {"Attempts": attempts, "Interval": 1800 * SECOND, "Delay": 10**7, "Mode": "fail"}
    return {
        "ID": job_id,
        "Name": job_id,
        "TaskGroups": [
            {
                "Name": "g",
                "Tasks": [
                    {"Name": "t", "Driver": "mock", "Config": config, "RestartPolicy": policy}
                ],
            }
        ],
    }


async def start_client(data_dir: Path, server: FakeServer) -> Client:
    client = Client(client_config(data_dir), server, registry())
    await client.__aenter__()
    await asyncio.wait_for(client.registered.wait(), 5)
    return client


def restarts(server: FakeServer, alloc_id: str) -> int:
    state = server.task_state(alloc_id, "t")
    return state.restarts if state else 0


def terminated_codes(server: FakeServer, alloc_id: str) -> list[int]:
    state = server.task_state(alloc_id, "t")
    return [e.exit_code for e in (state.events or []) if e.type == "Terminated"] if state else []


async def test_exit_while_agent_down_is_reported_with_its_code_and_restarted(
    tmp_path: Path, server: FakeServer
) -> None:
    first = await start_client(tmp_path, server)
    alloc = await server.place(mock_job("ends", {"run_for": "300ms", "exit_code": 3}, attempts=5))
    await eventually(lambda: server.allocs[alloc.id].client_status == "running")
    await first.__aexit__(None, None, None)
    await asyncio.sleep(0.4)

    second = await start_client(tmp_path, server)
    try:
        await eventually(lambda: 3 in terminated_codes(server, alloc.id))

        def after_exit() -> list[str]:
            types = event_types(server, alloc.id, "t")
            return types[types.index("Terminated") :][:3]

        await eventually(lambda: after_exit() == ["Terminated", "Restarting", "Started"])
        types = event_types(server, alloc.id, "t")
        assert "Failed Restoring Task" not in types
        assert restarts(server, alloc.id) >= 1
        assert server.task_state(alloc.id, "t").last_restart is not None
    finally:
        await second.allocs[alloc.id].stop()
        await second.__aexit__(None, None, None)


async def test_restart_count_survives_the_agent_and_still_limits_restarts(
    tmp_path: Path, server: FakeServer
) -> None:
    first = await start_client(tmp_path, server)
    alloc = await server.place(mock_job("crashy", {"run_for": "1s", "exit_code": 2}, attempts=1))
    # The first run fails and is restarted once: the one attempt the policy allows.
    await eventually(lambda: restarts(server, alloc.id) == 1, 5)
    await eventually(lambda: server.allocs[alloc.id].client_status == "running")
    await first.__aexit__(None, None, None)

    second = await start_client(tmp_path, server)
    try:
        runner = second.allocs[alloc.id].tasks["t"]
        assert runner.state.restarts == 1
        assert runner.tracker.count == 1
        # The second run fails too; with the count carried over, the policy is exhausted.
        await eventually(lambda: server.allocs[alloc.id].client_status == "failed", 5)
        state = server.task_state(alloc.id, "t")
        assert state.restarts == 1 and state.failed
        assert event_types(server, alloc.id, "t")[-1] == "Not Restarting"
        assert terminated_codes(server, alloc.id) == [2, 2]
    finally:
        await second.__aexit__(None, None, None)


async def test_restart_is_on_disk_before_its_delay(tmp_path: Path, server: FakeServer) -> None:
    client = await start_client(tmp_path, server)
    try:
        alloc = await server.place(
            mock_job("flaps", {"run_for": "50ms", "exit_code": 1}, attempts=3)
        )
        await eventually(lambda: client.allocs[alloc.id].tasks["t"].state.restarts == 1)
        # Read straight from the database, as an agent started after a kill -9 would.
        assert client.db is not None
        stored = client.db.tasks(alloc.id)["t"]
        assert stored.state is not None and stored.state.restarts >= 1
        assert stored.tracker is not None and stored.tracker["count"] >= 1
    finally:
        await client.allocs[alloc.id].stop()
        await client.__aexit__(None, None, None)


def test_tracker_snapshot_carries_count_and_interval_over_a_restart() -> None:
    policy = RestartPolicy(attempts=2, interval=60 * SECOND, delay=SECOND, mode="fail")
    before = RestartTracker(policy, "service", clock=lambda: 1000.0)
    before._interval_start = 990.0
    before._count = 2
    snapshot = before.snapshot(now_wall=5000.0)
    assert snapshot == {"count": 2, "interval_start": 4990.0}

    after = RestartTracker(policy, "service", clock=lambda: 7.0)
    after.restore(snapshot, now_wall=5020.0)
    assert after.count == 2
    # 30 s into the 60 s interval: the next failure exceeds the two attempts.
    assert after.on_start_error(recoverable=True).action == "not_restarting"

    late = RestartTracker(policy, "service", clock=lambda: 7.0)
    late.restore(snapshot, now_wall=5100.0)
    # The interval is over: counting starts afresh.
    assert late.on_start_error(recoverable=True).action == "restart"
