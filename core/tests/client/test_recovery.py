"""After the agent restarts (cleanly or killed), running tasks are reattached, not restarted."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from caravan.client import Client
from caravan.rpc.server import RPCServer

from .conftest import client_config, event_types, eventually, raw_job, registry
from .fakes import FakeServer
from .test_client_raw_exec import alive

TICKER = ["-c", "while true; do echo tick; sleep 0.05; done"]


async def start_client(data_dir: Path, server: FakeServer) -> Client:
    client = Client(client_config(data_dir), server, registry())
    await client.__aenter__()
    await asyncio.wait_for(client.registered.wait(), 5)
    return client


def pid_of(client: Client, alloc_id: str) -> int:
    return int(client.allocs[alloc_id].tasks["t"].handle.driver_state["pid"])


async def test_restart_reattaches_without_restarting(tmp_path: Path, server: FakeServer) -> None:
    first = await start_client(tmp_path, server)
    alloc = await server.place(raw_job("ticker", "sh", TICKER))
    await eventually(lambda: server.allocs[alloc.id].client_status == "running")
    pid = pid_of(first, alloc.id)
    node_id = first.node.id
    await first.__aexit__(None, None, None)
    assert alive(pid)
    log = tmp_path / "alloc" / alloc.id / "alloc" / "logs" / "t.stdout.0"
    updates_before = len(server.updates)

    second = await start_client(tmp_path, server)
    try:
        assert second.node.id == node_id
        runner = second.allocs[alloc.id].tasks["t"]
        assert runner.state.state == "running"
        assert pid_of(second, alloc.id) == pid
        size = log.stat().st_size
        await eventually(lambda: log.stat().st_size > size)
        assert event_types(server, alloc.id, "t") == ["Received", "Task Setup", "Started"]
        assert [e.type for e in runner.state.events] == ["Received", "Task Setup", "Started"]
        assert len(server.updates) == updates_before
        await server.stop(alloc.id)
        await eventually(lambda: not alive(pid))
        await eventually(lambda: server.allocs[alloc.id].client_status == "complete")
    finally:
        await second.__aexit__(None, None, None)


async def test_task_that_died_meanwhile_goes_through_restart_policy(
    tmp_path: Path, server: FakeServer
) -> None:
    first = await start_client(tmp_path, server)
    job = raw_job(
        "dies",
        "sleep",
        ["60"],
        RestartPolicy={"Attempts": 2, "Interval": 1800 * 10**9, "Delay": 10**7, "Mode": "fail"},
    )
    alloc = await server.place(job)
    await eventually(lambda: server.allocs[alloc.id].client_status == "running")
    pid = pid_of(first, alloc.id)
    await first.__aexit__(None, None, None)
    os.kill(pid, signal.SIGKILL)
    await eventually(lambda: not alive(pid))

    second = await start_client(tmp_path, server)
    try:
        await eventually(
            lambda: (
                event_types(server, alloc.id, "t")[-1:] == ["Started"]
                and "Restarting" in event_types(server, alloc.id, "t")
            )
        )
        types = event_types(server, alloc.id, "t")
        assert types[3:] == ["Failed Restoring Task", "Restarting", "Started"]
        assert pid_of(second, alloc.id) != pid
        assert server.task_state(alloc.id, "t").restarts == 1
    finally:
        await second.allocs[alloc.id].stop()
        await second.__aexit__(None, None, None)


async def test_alloc_stopped_while_agent_was_down_is_stopped(
    tmp_path: Path, server: FakeServer
) -> None:
    first = await start_client(tmp_path, server)
    alloc = await server.place(raw_job("stopped", "sleep", ["60"]))
    await eventually(lambda: server.allocs[alloc.id].client_status == "running")
    pid = pid_of(first, alloc.id)
    await first.__aexit__(None, None, None)
    await server.stop(alloc.id)

    second = await start_client(tmp_path, server)
    try:
        await eventually(lambda: not alive(pid))
        await eventually(lambda: server.allocs[alloc.id].client_status == "complete")
        assert event_types(server, alloc.id, "t")[-3:] == ["Killing", "Terminated", "Killed"]
    finally:
        await second.__aexit__(None, None, None)


async def test_kill_9_of_the_agent(tmp_path: Path, server: FakeServer) -> None:
    rpc = RPCServer("127.0.0.1:0")
    rpc.serve_endpoints(server)
    await rpc.start()
    script = Path(__file__).with_name("client_process.py")

    async def spawn() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, str(script), str(tmp_path), rpc.address
        )

    agent = await spawn()
    try:
        await eventually(lambda: server.nodes, 20)
        alloc = await server.place(raw_job("survivor", "sh", TICKER))
        await eventually(lambda: server.allocs[alloc.id].client_status == "running", 20)
        handle = server.allocs[alloc.id].task_states["t"]
        assert handle.state == "running"
        log = tmp_path / "alloc" / alloc.id / "alloc" / "logs" / "t.stdout.0"
        agent.kill()
        await agent.wait()
        registrations = server.registrations

        agent = await spawn()
        await eventually(lambda: server.registrations > registrations, 20)
        # The agent registered again with the same node ID: it kept its identity.
        assert len(server.nodes) == 1
        size = log.stat().st_size
        await eventually(lambda: log.stat().st_size > size)
        await server.stop(alloc.id)
        await eventually(lambda: server.allocs[alloc.id].client_status == "complete", 20)
        types = event_types(server, alloc.id, "t")
        assert types == ["Received", "Task Setup", "Started", "Killing", "Terminated", "Killed"]
    finally:
        if agent.returncode is None:
            agent.kill()
            await agent.wait()
        await rpc.stop()
