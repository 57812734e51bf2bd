"""Fixtures for ``caravan lb`` tests: a real server (one-member Raft over loopback) and its
HTTP API on a free 127.0.0.1 port, three tiny HTTP backends, and real nginx and HAProxy
processes started on files in the test's temporary directory."""

from __future__ import annotations

import asyncio
import http.client
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from caravan.api import AgentInfo, create_app
from caravan.rpc import RPCServer
from caravan.server.config import ServerConfig
from caravan.server.consensus import RaftGroup
from caravan.server.server import Server
from caravan.state import FSM, StateStore
from caravan.structs import ServiceRegistration


class Backend:
    """An HTTP server on 127.0.0.1 answering ``<id> <path>`` to every GET."""

    def __init__(self, ident: str) -> None:
        self.ident = ident
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = f"{backend.ident} {self.path}".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def registration(
        self, service: str = "web", tags: tuple[str, ...] = ("urlprefix-/",), **meta: str
    ) -> ServiceRegistration:
        return ServiceRegistration(
            id=f"{service}-{self.ident}",
            service_name=service,
            namespace="default",
            datacenter="dc1",
            node_id="node-1",
            job_id=service,
            address="127.0.0.1",
            port=self.port,
            tags=list(tags),
            meta=meta or None,
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Catalog:
    """The server whose catalog the tests change, and its HTTP address."""

    server: Server
    address: str

    async def add(self, *regs: ServiceRegistration) -> None:
        await self.server.service_upsert(list(regs))

    async def remove(self, reg: ServiceRegistration) -> None:
        await self.server.service_delete(reg.namespace, reg.service_name, reg.id)


@pytest.fixture
async def catalog() -> AsyncIterator[Catalog]:
    rpc = RPCServer("127.0.0.1:0")
    await rpc.start()
    fsm = FSM(StateStore())
    group = RaftGroup(fsm, rpc, tick_interval=0.02, apply_timeout=5.0, name="test-agent")
    await group.start()
    await group.wait_for_leader(10)
    server = Server(ServerConfig(num_schedulers=0, rpc_address=rpc.address), group, fsm)
    async with server:
        test_server = TestServer(
            create_app(server, agent_info=AgentInfo(node_name="test-agent")), host="127.0.0.1"
        )
        await test_server.start_server()
        try:
            yield Catalog(server, f"http://127.0.0.1:{test_server.port}")
        finally:
            await test_server.close()
    await group.stop()
    await rpc.stop()


@pytest.fixture(scope="module")
def backends() -> Iterator[list[Backend]]:
    servers = [Backend(f"b{i}") for i in range(3)]
    yield servers
    for server in servers:
        server.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str = "/") -> tuple[int, str]:
    """One request on a fresh connection: ``(status, body)``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def spread(port: int, requests: int) -> Counter[str]:
    """How many of ``requests`` each backend answered (by the id it answers with)."""
    return Counter(get(port)[1].split()[0] for _ in range(requests))


async def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll a blocking ``check`` (in a thread, so the loop keeps serving) until true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await asyncio.to_thread(check):
                return
        except OSError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Proxy:
    """A real proxy process serving its config file."""

    def __init__(self, command: list[str], port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"{command[0]} exited: {self.proc.stderr.read().decode()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{command[0]} never listened on {port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


def binary(name: str) -> str:
    path = shutil.which(name) or shutil.which(f"/usr/sbin/{name}")
    if path is None:
        pytest.fail(f"{name} is not installed: run scripts/system-deps.sh")
    return path


@dataclass
class ProxySetup:
    """A plugin config living in a temporary directory, and how to start the proxy on it."""

    kind: str
    config: dict[str, Any]
    port: int
    start: Callable[[], Proxy]

    @property
    def out(self) -> Path:
        return Path(self.config["out"])


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[ProxySetup]:
    (tmp_path / "temp").mkdir()
    port = free_port()
    config = {
        "binary": binary("nginx"),
        "listen": f"127.0.0.1:{port}",
        "out": str(tmp_path / "nginx.conf"),
        "pid_file": str(tmp_path / "nginx.pid"),
        "temp_dir": str(tmp_path / "temp"),
        "worker_processes": "1",
        "fail_timeout": "1s",
    }
    started: list[Proxy] = []

    def start() -> Proxy:
        command = [binary("nginx"), "-p", str(tmp_path), "-e", "stderr", "-c", config["out"]]
        proxy = Proxy([*command, "-g", "daemon off;"], port)
        started.append(proxy)
        return proxy

    yield ProxySetup("nginx", config, port, start)
    for proxy in started:
        proxy.stop()


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[ProxySetup]:
    port = free_port()
    config = {
        "binary": binary("haproxy"),
        "listen": f"127.0.0.1:{port}",
        "out": str(tmp_path / "haproxy.cfg"),
        "pid_file": str(tmp_path / "haproxy.pid"),
    }
    started: list[Proxy] = []

    def start() -> Proxy:
        command = [binary("haproxy"), "-W", "-f", config["out"], "-p", config["pid_file"]]
        proxy = Proxy(command, port)
        started.append(proxy)
        return proxy

    yield ProxySetup("haproxy", config, port, start)
    for proxy in started:
        proxy.stop()


@pytest.fixture
def traffic() -> Any:
    """``get``, ``spread`` and ``eventually`` for the tests."""

    class Traffic:
        pass

    Traffic.get = staticmethod(get)  # type: ignore[attr-defined]
    Traffic.spread = staticmethod(spread)  # type: ignore[attr-defined]
    Traffic.eventually = staticmethod(eventually)  # type: ignore[attr-defined]
    return Traffic
