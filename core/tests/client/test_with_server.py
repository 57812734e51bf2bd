"""The client against the real in-process Server (one-member consensus): a registered job
is placed on the client's node, its task runs, and the status flows back to the servers."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from caravan.client import Client
from caravan.server import Server, ServerConfig
from caravan.state import FSM, StateStore
from caravan.structs import Job, canonicalize

from .conftest import client_config, eventually, registry


class LocalConsensus:
    """The leader of a one-member group: every command is committed and applied at once."""

    def __init__(self, fsm: FSM) -> None:
        self.fsm = fsm
        self.index = itertools.count(1)
        self.is_leader = True
        self.leader_address = "127.0.0.1:4647"

    async def apply(self, command: bytes) -> Any:
        return self.fsm.apply(next(self.index), command)

    def add_leadership_observer(self, cb: Callable[[bool], Awaitable[None]]) -> None:
        pass

    async def barrier(self) -> None:
        return None


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[Server, Client]]:
    fsm = FSM(StateStore())
    config = ServerConfig(num_schedulers=1, dequeue_timeout=0.05, min_heartbeat_ttl=30.0)
    server = Server(config, LocalConsensus(fsm), fsm)
    async with server, Client(client_config(tmp_path), server, registry()) as client:
        await asyncio.wait_for(client.registered.wait(), 5)
        yield server, client
        for runner in list(client.allocs.values()):
            await runner.destroy()


def job(job_id: str, driver: str, config: dict[str, Any]) -> Job:
    return canonicalize(
        Job.from_api(
            {
                "ID": job_id,
                "Type": "service",
                "Datacenters": ["dc1"],
                "TaskGroups": [
                    {
                        "Name": "g",
                        "Count": 1,
                        "Tasks": [
                            {
                                "Name": "t",
                                "Driver": driver,
                                "Config": config,
                                "Resources": {"CPU": 100, "MemoryMB": 64},
                            }
                        ],
                    }
                ],
            }
        )
    )


def allocs(server: Server, job_id: str) -> list[Any]:
    return list(server.state.allocs_by_job("default", job_id))


@pytest.mark.parametrize(
    ("driver", "config"),
    [("mock", {"run_for": "1h"}), ("raw_exec", {"command": "sleep", "args": ["60"]})],
)
async def test_job_runs_and_reports(cluster, driver: str, config: dict[str, Any]) -> None:
    server, client = cluster
    node = server.state.node_by_id(client.node.id)
    assert node.status == "ready" and node.drivers[driver].healthy
    await server.job_register(job("web", driver, config))
    await eventually(lambda: [a for a in allocs(server, "web") if a.client_status == "running"])
    alloc = allocs(server, "web")[0]
    assert alloc.node_id == client.node.id
    assert alloc.client_description == "Tasks are running"
    assert [e.type for e in alloc.task_states["t"].events] == ["Received", "Task Setup", "Started"]

    await server.job_deregister("default", "web")
    await eventually(lambda: allocs(server, "web")[0].client_status == "complete")
    assert allocs(server, "web")[0].task_states["t"].events[-1].type == "Killed"
