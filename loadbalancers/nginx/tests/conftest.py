"""Fixtures for tests against a real nginx: tiny HTTP backends and an nginx started on a
free 127.0.0.1 port in a temporary prefix, stopped when the test ends."""

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


def nginx_binary() -> str:
    path = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if path is None:
        pytest.fail("nginx is not installed: run scripts/system-deps.sh")
    return path


class NginxProcess:
    """A real nginx serving ``conf`` in the foreground."""

    def __init__(self, prefix: Path, conf: Path, port: int) -> None:
        self.conf = conf
        self.port = port
        self.proc = subprocess.Popen(
            [
                nginx_binary(),
                "-p",
                str(prefix),
                "-e",
                "stderr",
                "-c",
                str(conf),
                "-g",
                "daemon off;",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_until(self._answers, f"nginx on port {port}")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"nginx exited: {self.proc.stderr.read().decode()}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
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
def nginx_config(tmp_path: Path) -> dict:
    """A plugin config whose nginx lives in ``tmp_path`` and listens on a free port."""
    (tmp_path / "temp").mkdir()
    return {
        "binary": nginx_binary(),
        "listen": f"127.0.0.1:{free_port()}",
        "out": str(tmp_path / "nginx.conf"),
        "pid_file": str(tmp_path / "nginx.pid"),
        "temp_dir": str(tmp_path / "temp"),
        "worker_processes": "1",
        "fail_timeout": "1s",
    }


@pytest.fixture
def start_nginx(tmp_path: Path, nginx_config: dict) -> Iterator[Callable[[], NginxProcess]]:
    """Start nginx on the config file at ``nginx_config["out"]``; stopped after the test."""
    started: list[NginxProcess] = []

    def start() -> NginxProcess:
        port = int(nginx_config["listen"].rpartition(":")[2])
        process = NginxProcess(tmp_path, Path(nginx_config["out"]), port)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
