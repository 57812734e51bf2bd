"""Real server processes for the cluster tests: start, call, kill -9, restart.

Each server is ``python -m caravan.rpc.testserver`` on its own 127.0.0.1 port with its own
data directory (so every write is fsynced), with a fast Raft tick so elections take well
under a second.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from caravan.rpc import RPCConnection
from caravan_plugins.testing.ports import free_ports

TICK = 0.05


class Cluster:
    """``n`` test servers forming one group with ``bootstrap_expect=n``."""

    def __init__(self, root: Path, n: int = 3) -> None:
        self.root = root
        self.addresses = [f"127.0.0.1:{p}" for p in free_ports(n)]
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(self, address: str) -> None:
        self.spawn(address)
        self.wait_ready(address)

    def spawn(self, address: str) -> None:
        args = [sys.executable, "-m", "caravan.rpc.testserver", "--rpc", address]
        for other in self.addresses:
            if other != address:
                args += ["--join", other]
        args += ["--bootstrap-expect", str(len(self.addresses)), "--tick", str(TICK)]
        args += ["--data-dir", str(self.root / address.replace(":", "_"))]
        self.procs[address] = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)

    def wait_ready(self, address: str) -> None:
        proc = self.procs[address]
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("ready"), f"server {address} did not start: {line!r}"

    def start_all(self) -> None:
        """Start every server at once (they find each other through their join lists)."""
        for address in self.addresses:
            self.spawn(address)
        for address in self.addresses:
            self.wait_ready(address)

    def kill(self, address: str) -> None:
        """``kill -9``: no chance to flush or say goodbye."""
        proc = self.procs.pop(address)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for address in list(self.procs):
            self.kill(address)

    @property
    def alive(self) -> list[str]:
        return list(self.procs)

    async def call(self, address: str, method: str, args: dict[str, Any] | None = None) -> Any:
        conn = await RPCConnection.open(address)
        try:
            return await conn.call(method, args or {}, 10.0)
        finally:
            conn.close()

    async def leader(self, among: list[str] | None = None, timeout: float = 10.0) -> str:
        """The address every server in ``among`` (default: all alive) agrees leads."""
        among = among or self.alive
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statuses = [await self.call(a, "test_status") for a in among]
            leaders = {s["Leader"] for s in statuses}
            if len(leaders) == 1 and "" not in leaders and leaders <= set(among):
                return leaders.pop()
            await asyncio.sleep(TICK)
        raise AssertionError(f"no agreed leader among {among}: {statuses}")
