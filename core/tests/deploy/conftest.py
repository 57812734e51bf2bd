"""A one-server cluster with a deployment watcher on a hand-moved clock, and helpers to play
the client's part: report allocations running and (un)healthy."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from caravan.server import Server, ServerConfig
from caravan.server.deployment_watcher import DeploymentWatcher
from caravan.state import FSM, StateStore
from caravan.structs import Job, Node, canonicalize, now_ns

SECOND = 1_000_000_000


class LocalConsensus:
    """Leader of a one-member group: ``apply`` commits and applies immediately."""

    def __init__(self, fsm: FSM) -> None:
        self.fsm = fsm
        self.index = itertools.count(1)
        self.is_leader = True
        self.leader_address = "127.0.0.1:4647"
        self.observers: list[Callable[[bool], Awaitable[None]]] = []

    async def apply(self, command: bytes) -> Any:
        return self.fsm.apply(next(self.index), command)

    def add_leadership_observer(self, cb: Callable[[bool], Awaitable[None]]) -> None:
        self.observers.append(cb)

    async def barrier(self) -> None:
        return None


class Clock:
    """Unix nanoseconds that tests move forward by hand."""

    def __init__(self) -> None:
        self.now = now_ns()

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * SECOND)


class Cluster:
    """A server, its watcher and its clock."""

    def __init__(self, server: Server, watcher: DeploymentWatcher, clock: Clock) -> None:
        self.server = server
        self.watcher = watcher
        self.clock = clock
        self.state = server.state

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until no evaluation is pending and the watcher has nothing left to do."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        while quiet < 3:
            if loop.time() > deadline:
                raise AssertionError(f"cluster did not settle: {self.server.broker.stats()}")
            index = self.state.latest_index
            busy = any(self.server.broker.stats().values()) or any(
                e.status == "pending" for e in self.state.evals()
            )
            await asyncio.sleep(0.02)
            quiet = 0 if busy or self.state.latest_index != index else quiet + 1

    def allocs(self, job_id: str = "web") -> list[Any]:
        return sorted(self.state.allocs_by_job("default", job_id), key=lambda a: a.create_index)

    def live(self, job_id: str = "web") -> list[Any]:
        return [
            a
            for a in self.allocs(job_id)
            if a.desired_status == "run" and a.client_status not in ("complete", "failed", "lost")
        ]

    def deployment(self, job_id: str = "web") -> Any:
        return self.state.latest_deployment_by_job("default", job_id)

    def job(self, job_id: str = "web") -> Any:
        return self.state.job_by_id("default", job_id)

    async def report(self, allocs: list[Any], healthy: bool | None) -> None:
        """Play the client: the allocations run and (unless ``None``) are (un)healthy now."""
        stamp = datetime.fromtimestamp(self.clock.now / SECOND, UTC).isoformat()
        updates = []
        for alloc in allocs:
            update: dict[str, Any] = {
                "ID": alloc.id,
                "ClientStatus": "running",
                "ClientDescription": "Tasks are running",
            }
            if healthy is not None:
                update["DeploymentStatus"] = {"Healthy": healthy, "Timestamp": stamp}
            updates.append(update)
        await self.server.alloc_client_update(updates)
        await self.settle()


def fast_config() -> ServerConfig:
    return ServerConfig(
        num_schedulers=1,
        min_heartbeat_ttl=60.0,
        heartbeat_grace=10.0,
        eval_nack_timeout=5.0,
        eval_nack_initial_reenqueue_delay=0.01,
        eval_nack_subsequent_reenqueue_delay=0.01,
        dequeue_timeout=0.05,
        blocked_unblock_window=0.01,
        drain_interval=0.05,
    )


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    fsm = FSM(StateStore())
    clock = Clock()
    server = Server(fast_config(), LocalConsensus(fsm), fsm)
    # The server runs its watcher while it leads; the test's watcher reads the test clock.
    server.deployment_watcher = watcher = DeploymentWatcher(server, clock=clock, poll=0.05)
    async with server:
        for i in range(3):
            await server.node_register(node(f"n{i}"))
        yield Cluster(server, watcher, clock)


def node(node_id: str) -> Node:
    return Node.from_api(
        {
            "ID": node_id,
            "Name": node_id,
            "Datacenter": "dc1",
            "Status": "ready",
            "Attributes": {"kernel.name": "linux", "unique.hostname": node_id},
            "Drivers": {"mock": {"Detected": True, "Healthy": True}},
            "NodeResources": {
                "Cpu": {"CpuShares": 4000},
                "Memory": {"MemoryMB": 4096},
                "Disk": {"DiskMB": 10000},
            },
        }
    )


def job(
    count: int = 1, image: str = "redis:3.2", update: dict[str, Any] | None = None, **extra: Any
) -> Job:
    """The walkthrough's ``example`` job in miniature: one group, one task, an image."""
    data: dict[str, Any] = {
        "ID": "web",
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "cache",
                "Count": count,
                "Tasks": [
                    {
                        "Name": "redis",
                        "Driver": "mock",
                        "Config": {"image": image, "run_for": "1h"},
                        "Resources": {"CPU": 100, "MemoryMB": 64},
                    }
                ],
            }
        ],
        **extra,
    }
    if update is not None:
        data["Update"] = update
    return canonicalize(Job.from_api(data))


def version(alloc: Any) -> int:
    return alloc.job.version if alloc.job is not None else -1


def undecided(allocs: list[Any]) -> list[Any]:
    """Allocations whose deployment health is not known yet."""
    return [a for a in allocs if a.deployment_status is None or a.deployment_status.healthy is None]
