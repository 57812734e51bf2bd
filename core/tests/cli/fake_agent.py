"""A canned HTTP agent for CLI tests: serves recorded API JSON by method and path."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeAgent:
    """``routes[(method, path)]`` is the JSON body (or ``(status, text)`` for an error);
    a callable gets the query dict. ``requests`` records ``(method, path, query, headers)``."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Any] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]], dict[str, str]]] = []
        self.index = 10
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                agent.requests.append((self.command, parts.path, query, dict(self.headers)))
                agent.bodies.append(json.loads(body) if body else None)
                route = agent.routes.get((self.command, parts.path))
                if callable(route):
                    route = route(query)
                if route is None:
                    status, payload, ctype = 404, b"resource not found", "text/plain"
                elif isinstance(route, tuple):
                    status, payload, ctype = route[0], route[1].encode(), "text/plain"
                else:
                    status, payload, ctype = 200, json.dumps(route).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("X-Nomad-Index", str(agent.index))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = _serve

        self.bodies: list[Any] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def serve(self) -> Iterator[FakeAgent]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
