"""Fixtures for tests against a real HAProxy: tiny HTTP backends and an HAProxy started on
a free 127.0.0.1 port with its files in a temporary directory, stopped when the test ends."""

from __future__ import annotations

import http.client
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from caravan_plugins import ServiceInstance


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

    def instance(self, *tags: str, service: str = "web", **fields: object) -> ServiceInstance:
        return ServiceInstance(
            id=f"{service}-{self.ident}",
            service=service,
            address="127.0.0.1",
            port=self.port,
            tags=list(tags),
            **fields,
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


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


def get(port: int, path: str = "/", host: str = "localhost") -> tuple[int, str]:
    """One request on a fresh connection: ``(status, body)``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def spread(port: int, requests: int, path: str = "/") -> Counter[str]:
    """How many of ``requests`` each backend answered (by the id it answers with)."""
    return Counter(get(port, path)[1].split()[0] for _ in range(requests))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def haproxy_binary() -> str:
    path = shutil.which("haproxy") or shutil.which("/usr/sbin/haproxy")
    if path is None:
        pytest.fail("haproxy is not installed: run scripts/system-deps.sh")
    return path


class HAProxyProcess:
    """A real HAProxy in master-worker mode serving ``cfg``."""

    def __init__(self, cfg: Path, pid_file: Path, port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [haproxy_binary(), "-W", "-f", str(cfg), "-p", str(pid_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_until(self._answers, f"haproxy on port {port}")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"haproxy exited: {self.proc.stderr.read().decode()}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


class Traffic:
    """Requests through the proxy, for tests (the ``traffic`` fixture)."""

    get = staticmethod(get)
    spread = staticmethod(spread)
    wait_until = staticmethod(wait_until)


@pytest.fixture
def traffic() -> type[Traffic]:
    return Traffic


@pytest.fixture
def haproxy_config(tmp_path: Path) -> dict:
    """A plugin config whose HAProxy files live in ``tmp_path``, listening on a free port."""
    return {
        "binary": haproxy_binary(),
        "listen": f"127.0.0.1:{free_port()}",
        "out": str(tmp_path / "haproxy.cfg"),
        "pid_file": str(tmp_path / "haproxy.pid"),
    }


@pytest.fixture
def start_haproxy(haproxy_config: dict) -> Iterator[Callable[[], HAProxyProcess]]:
    """Start HAProxy on the file at ``haproxy_config["out"]``; stopped after the test."""
    started: list[HAProxyProcess] = []

    def start() -> HAProxyProcess:
        port = int(haproxy_config["listen"].rpartition(":")[2])
        cfg, pid_file = Path(haproxy_config["out"]), Path(haproxy_config["pid_file"])
        process = HAProxyProcess(cfg, pid_file, port)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
