"""Fixtures: a fake server, a client with the raw_exec and mock drivers, and helpers that
wait for observable outcomes instead of sleeping fixed times."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from caravan_driver_raw_exec.driver import RawExecDriver

from caravan.client import Client, ClientConfig
from caravan_plugins import PluginRegistry
from caravan_plugins.mock_driver import MockDriver

from .fakes import FakeServer


def registry() -> PluginRegistry:
    return PluginRegistry.make_test_instance(
        drivers=[RawExecDriver, MockDriver], configs={"raw_exec": {"enabled": True}}
    ).load()


def client_config(data_dir: Path, **extra: Any) -> ClientConfig:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "node_name": "client-test",
        "update_interval": 0.02,
        "alloc_watch_wait": 5.0,
        "gc_interval": 3600.0,
        "network_address": "127.0.0.1",
    }
    values.update(extra)
    return ClientConfig(**values)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
async def client(tmp_path: Path, server: FakeServer) -> AsyncIterator[Client]:
    async with Client(client_config(tmp_path), server, registry()) as c:
        await asyncio.wait_for(c.registered.wait(), 5)
        yield c
        # Leaving a client leaves its tasks running (as an agent shutdown does); tests do
        # not leave processes behind.
        for runner in list(c.allocs.values()):
            await runner.destroy()


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


def event_types(server: FakeServer, alloc_id: str, task: str) -> list[str]:
    state = server.task_state(alloc_id, task)
    return [e.type for e in (state.events or [])] if state else []


def raw_job(job_id: str, command: str, args: list[str], **task: Any) -> dict[str, Any]:
    """A one-task raw_exec service job."""
    return {
        "ID": job_id,
        "Name": job_id,
        "TaskGroups": [
            {
                "Name": "g",
                "Tasks": [
                    {
                        "Name": "t",
                        "Driver": "raw_exec",
                        "Config": {"command": command, "args": args},
                        **task,
                    }
                ],
            }
        ],
    }
