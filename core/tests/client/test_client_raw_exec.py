"""A client running real processes with raw_exec, against the fake server."""

from __future__ import annotations

import os

from caravan.client import Client
from caravan_plugins import Fingerprint, PluginRegistry, hookimpl
from caravan_plugins.mock_driver import MockDriver

from .conftest import client_config, event_types, eventually, raw_job, registry


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_registers_with_fingerprint(client, server) -> None:
    node = server.nodes[client.node.id]
    attrs = node.attributes
    assert int(attrs["cpu.numcores"]) >= 1
    assert int(attrs["memory.totalbytes"]) > 0
    assert attrs["unique.network.ip-address"] == "127.0.0.1"
    assert attrs["driver.raw_exec"] == "1"
    assert node.drivers["raw_exec"].healthy and node.drivers["raw_exec"].detected
    assert node.node_resources.min_dynamic_port == 20000
    assert node.status == "ready"


async def test_task_runs_and_reports_running(client, server) -> None:
    alloc = await server.place(raw_job("sleeper", "sleep", ["30"]))
    await eventually(lambda: server.allocs[alloc.id].client_status == "running")
    assert server.allocs[alloc.id].client_description == "Tasks are running"
    assert event_types(server, alloc.id, "t") == ["Received", "Task Setup", "Started"]
    state = server.task_state(alloc.id, "t")
    assert state.state == "running"
    assert state.events[1].display_message == "Building Task Directory"
    assert state.events[2].display_message == "Task started by client"


async def test_exit_code_and_restart_then_fail(client, server) -> None:
    job = raw_job(
        "failing",
        "sh",
        ["-c", "exit 3"],
        RestartPolicy={"Attempts": 1, "Interval": 1800 * 10**9, "Delay": 10**7, "Mode": "fail"},
    )
    alloc = await server.place(job)
    await eventually(lambda: server.allocs[alloc.id].client_status == "failed", 15)
    state = server.task_state(alloc.id, "t")
    types = [e.type for e in state.events]
    assert types == [
        "Received",
        "Task Setup",
        "Started",
        "Terminated",
        "Restarting",
        "Started",
        "Terminated",
        "Not Restarting",
    ]
    terminated = state.events[3]
    assert terminated.exit_code == 3
    assert terminated.display_message == "Exit Code: 3"
    assert state.events[-1].display_message == (
        'Exceeded allowed attempts 1 in interval 30m0s and mode is "fail"'
    )
    assert state.failed and state.state == "dead" and state.restarts == 1
    assert server.allocs[alloc.id].client_description == "Failed tasks"


async def test_batch_success_completes(client, server) -> None:
    job = raw_job("once", "sh", ["-c", "echo hello $NOMAD_TASK_NAME"])
    job["Type"] = "batch"
    alloc = await server.place(job)
    await eventually(lambda: server.allocs[alloc.id].client_status == "complete")
    assert event_types(server, alloc.id, "t")[-1] == "Terminated"
    log = client.allocs[alloc.id].alloc_dir.log_path("t", "stdout")
    assert log.read_text() == "hello t\n"


async def test_server_stop_kills_task(client, server) -> None:
    alloc = await server.place(raw_job("stopme", "sleep", ["60"]))
    await eventually(lambda: server.allocs[alloc.id].client_status == "running")
    pid = int(client.allocs[alloc.id].tasks["t"].handle.driver_state["pid"])
    await server.stop(alloc.id)
    await eventually(lambda: server.allocs[alloc.id].client_status == "complete")
    assert not alive(pid)
    types = event_types(server, alloc.id, "t")
    assert types[-3:] == ["Killing", "Terminated", "Killed"]
    killing = server.task_state(alloc.id, "t").events[-3]
    assert killing.display_message == "Sent interrupt. Waiting 5s before force killing"


async def test_removed_alloc_is_destroyed_and_collected(client, server) -> None:
    alloc = await server.place(raw_job("gone", "sleep", ["60"]))
    await eventually(lambda: server.allocs[alloc.id].client_status == "running")
    alloc_dir = client.allocs[alloc.id].alloc_dir.root
    pid = int(client.allocs[alloc.id].tasks["t"].handle.driver_state["pid"])
    await server.remove(alloc.id)
    await eventually(lambda: alloc.id not in client.allocs and not alive(pid))
    await eventually(lambda: client.collect_garbage() or not alloc_dir.exists())
    assert not alloc_dir.exists()


async def test_missing_driver_fails_task(client, server) -> None:
    job = raw_job("nodriver", "x", [])
    job["TaskGroups"][0]["Tasks"][0]["Driver"] = "docker-nope"
    alloc = await server.place(job)
    await eventually(lambda: server.allocs[alloc.id].client_status == "failed")
    state = server.task_state(alloc.id, "t")
    assert "not loaded" in state.events[1].display_message
    assert state.events[-1].display_message == "Error was unrecoverable"


class Contributor:
    """A hook plugin adding one node attribute."""

    @hookimpl
    def caravan_node_attributes(self, attributes: dict[str, str]) -> dict[str, str]:
        return {"rack": f"r-{attributes['kernel.name']}"}


class FlakyDriver(MockDriver):
    """A mock driver whose health the test switches."""

    name = "flaky"
    health = "healthy"

    async def fingerprint(self) -> Fingerprint:
        return Fingerprint(health=type(self).health, health_description=type(self).health)


async def test_hook_attributes_and_driver_health_changes(tmp_path, server) -> None:
    registry = PluginRegistry.make_test_instance(drivers=[FlakyDriver], hooks=[Contributor()])
    config = client_config(tmp_path, fingerprint_interval=0.05)
    async with Client(config, server, registry.load()) as client:
        await eventually(lambda: client.registered.is_set())
        node = server.nodes[client.node.id]
        assert node.attributes["rack"] == "r-linux"
        assert node.drivers["flaky"].healthy
        FlakyDriver.health = "unhealthy"
        try:
            update = await eventually(lambda: server.driver_updates)
        finally:
            FlakyDriver.health = "healthy"
        assert update[0]["flaky"]["Healthy"] is False
        assert update[0]["flaky"]["HealthDescription"] == "unhealthy"
        assert "driver.flaky" not in client.node.attributes


async def test_node_id_survives_restart(tmp_path, server) -> None:
    ids = []
    for _ in range(2):
        async with Client(client_config(tmp_path), server, registry()) as client:
            await eventually(lambda c=client: c.registered.is_set())
            ids.append(client.node.id)
    assert ids[0] == ids[1]
    assert (tmp_path / "client" / "state.db").exists()
