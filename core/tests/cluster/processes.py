"""Three real server processes (``python -m caravan.rpc.testserver --server``) on 127.0.0.1,
each with its own data directory, and the calls the tests make to them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from caravan.rpc import RPCClient, RPCConnection
from caravan_plugins.testing.ports import free_ports

TICK = 0.05
HEARTBEAT_TTL = 1.0
HEARTBEAT_GRACE = 1.0


class ProcessRegion:
    """Three server processes forming one region (``bootstrap_expect = 3``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.addresses = [f"127.0.0.1:{p}" for p in free_ports(3)]
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def start(self) -> None:
        for address in self.addresses:
            args = [sys.executable, "-m", "caravan.rpc.testserver", "--server", "--rpc", address]
            for other in self.addresses:
                if other != address:
                    args += ["--join", other]
            args += ["--bootstrap-expect", "3", "--tick", str(TICK)]
            args += ["--heartbeat-ttl", str(HEARTBEAT_TTL)]
            args += ["--heartbeat-grace", str(HEARTBEAT_GRACE), "--forward-timeout", "10"]
            args += ["--data-dir", str(self.root / address.replace(":", "_"))]
            self.procs[address] = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        for address, proc in self.procs.items():
            line = proc.stdout.readline() if proc.stdout else ""
            assert line.startswith("ready"), f"server {address} did not start: {line!r}"

    def kill9(self, address: str) -> None:
        proc = self.procs.pop(address)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    async def call(self, address: str, method: str, args: dict[str, Any] | None = None) -> Any:
        """One call to exactly this server (no failover)."""
        conn = await RPCConnection.open(address)
        try:
            return await conn.call(method, args or {}, 5.0)
        finally:
            conn.close()

    async def leader(self, timeout: float = 15.0) -> str:
        """The address of the server that leads, as every live server agrees."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                statuses = [await self.call(a, "test_status") for a in self.procs]
            except (OSError, TimeoutError):
                statuses = []
            leaders = [s["ID"] for s in statuses if s["IsLeader"]]
            if len(leaders) == 1 and all(s["Leader"] == leaders[0] for s in statuses):
                return leaders[0]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no leader among {sorted(self.procs)} within {timeout}s")

    def client(self, address: str) -> RPCClient:
        """A client of exactly this server (its writes are forwarded if it is a follower)."""
        return RPCClient([address], timeout=10.0)
