"""Tiny HTTP backends and the requests that go through a proxy to them, for load balancer
tests.

Each :class:`Backend` answers every GET with ``<id> <path>``, so a test sees which backend
served a request and what path reached it; :func:`spread` counts the answers of many
requests by backend. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..services import ServiceInstance


class Backend:
    """An HTTP server on a free 127.0.0.1 port answering ``<ident> <path>`` to every GET,
    served from a daemon thread until :meth:`close`."""

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
        """This backend as an instance of ``service`` (id ``<service>-<ident>``) with
        ``tags``; ``fields`` set the rest (``checks``, ``meta``, ...)."""
        return ServiceInstance(
            id=f"{service}-{self.ident}",
            service=service,
            address="127.0.0.1",
            port=self.port,
            tags=list(tags),
            **fields,
        )

    def close(self) -> None:
        """Stop serving and free the port."""
        self.server.shutdown()
        self.server.server_close()


def sample_instance(n: int, *tags: str, service: str = "web", **fields: object) -> ServiceInstance:
    """Instance ``n`` of ``service`` at 10.0.0.5, port 8080 + ``n``, with ``tags``: for tests
    that only render (nothing listens there)."""
    return ServiceInstance(
        id=f"{service}-{n}",
        service=service,
        address="10.0.0.5",
        port=8080 + n,
        tags=list(tags),
        **fields,
    )


def get(port: int, path: str = "/", host: str = "localhost") -> tuple[int, str]:
    """One GET to 127.0.0.1:``port`` with ``Host: host``, on a fresh connection:
    ``(status, body)``."""
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
    """Call ``check`` every 50 ms until it is true; connection errors count as false.

    :raises AssertionError: ``timeout`` seconds passed first, naming ``what``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def eventually(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """:func:`wait_until` for async tests: the blocking ``check`` runs in a thread, so the
    event loop keeps serving meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if await asyncio.to_thread(check):
                return
        except OSError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Traffic:
    """Requests through a proxy, as the ``traffic`` fixture hands them to tests."""

    get = staticmethod(get)
    spread = staticmethod(spread)
    wait_until = staticmethod(wait_until)
    eventually = staticmethod(eventually)
