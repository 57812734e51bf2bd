"""A single-server cluster for the server's tests (the real Raft group with one member, see
:mod:`caravan.server.testing`), and builders for nodes and jobs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from caravan.server import Server, ServerConfig
from caravan.server.testing import local_server
from caravan.structs import Job, Node, canonicalize


def fast_config(**overrides: Any) -> ServerConfig:
    values: dict[str, Any] = {
        "num_schedulers": 2,
        "min_heartbeat_ttl": 60.0,
        "heartbeat_grace": 10.0,
        "eval_nack_timeout": 5.0,
        "eval_nack_initial_reenqueue_delay": 0.01,
        "eval_nack_subsequent_reenqueue_delay": 0.01,
        "dequeue_timeout": 0.05,
        "blocked_unblock_window": 0.01,
        "drain_interval": 0.05,
    }
    values.update(overrides)
    return ServerConfig(**values)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with make_server() as srv:
        yield srv


def make_server(**overrides: Any) -> contextlib.AbstractAsyncContextManager[Server]:
    """A running server on a one-member Raft group, configured by ``fast_config``."""
    return local_server(fast_config(**overrides))


def node(node_id: str, cpu: int = 2000, memory: int = 2048, **extra: Any) -> Node:
    return Node.from_api(
        {
            "ID": node_id,
            "Name": node_id,
            "Datacenter": "dc1",
            "Status": "ready",
            "Attributes": {"kernel.name": "linux", "unique.hostname": node_id},
            "Drivers": {"mock": {"Detected": True, "Healthy": True}},
            "NodeResources": {
                "Cpu": {"CpuShares": cpu},
                "Memory": {"MemoryMB": memory},
                "Disk": {"DiskMB": 10000},
            },
            **extra,
        }
    )


def job(
    job_id: str = "web", count: int = 3, cpu: int = 500, memory: int = 256, **extra: Any
) -> Job:
    data = {
        "ID": job_id,
        "Type": "service",
        "Datacenters": ["dc1"],
        "TaskGroups": [
            {
                "Name": "app",
                "Count": count,
                "Tasks": [
                    {
                        "Name": "app",
                        "Driver": "mock",
                        "Config": {"run_for": "1h"},
                        "Resources": {"CPU": cpu, "MemoryMB": memory},
                    }
                ],
            }
        ],
        **extra,
    }
    return canonicalize(Job.from_api(data))


async def settle(srv: Server, timeout: float = 5.0) -> None:
    """Wait until the broker is idle and no evaluation is pending."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        stats = srv.broker.stats()
        pending = [e for e in srv.state.evals() if e.status == "pending"]
        if not any(stats.values()) and not pending:
            await asyncio.sleep(0.02)
            if not [e for e in srv.state.evals() if e.status == "pending"]:
                return
        await asyncio.sleep(0.01)
    raise AssertionError(f"server did not settle: {srv.broker.stats()}")


def live(srv: Server, job_id: str = "web") -> list[Any]:
    return [
        a
        for a in srv.state.allocs_by_job("default", job_id)
        if a.desired_status == "run" and a.client_status not in ("complete", "failed", "lost")
    ]


async def eventually(check: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll ``check`` until it holds; fail the test naming ``what`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)
