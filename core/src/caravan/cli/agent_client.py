"""The CLI's HTTP client: agent address, token and region from flags and env, Nomad's errors.

Every failure becomes one :class:`CLIError` line in Nomad's words: ``Error querying jobs:
Get "http://127.0.0.1:4646/v1/jobs": dial tcp 127.0.0.1:4646: connect: connection refused``
when nothing listens, ``Error querying job: Unexpected response code: 404 (job not found)``
when the agent refuses.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import click

from caravan.tlsutil import TLSError
from caravan.tlsutil.context import cli_context

from .output import CLIError

#: ``(ca_cert, client_cert, client_key)`` flag values; ``None`` falls back to the environment.
TLSFiles = tuple[str | None, str | None, str | None]

DEFAULT_ADDRESS = "http://127.0.0.1:4646"


def agent_address(flag: str | None) -> str:
    """The agent's HTTP address: ``-address``, else ``CARAVAN_ADDR``, else ``NOMAD_ADDR``."""
    address = (
        flag or os.environ.get("CARAVAN_ADDR") or os.environ.get("NOMAD_ADDR") or DEFAULT_ADDRESS
    ).rstrip("/")
    return address if "://" in address else f"http://{address}"


def agent_token(flag: str | None) -> str:
    """The ACL token: ``-token``, else ``CARAVAN_TOKEN``, else ``NOMAD_TOKEN``."""
    return flag or os.environ.get("CARAVAN_TOKEN") or os.environ.get("NOMAD_TOKEN") or ""


class AgentClient:
    """Talks JSON to an agent's HTTP API; every failure becomes a one-line :class:`CLIError`.

    ``region`` and ``namespace`` (when given) are sent on every request as query parameters.
    :attr:`last_index` holds the ``X-Nomad-Index`` of the last read, for blocking queries.
    """

    def __init__(
        self,
        address: str | None = None,
        timeout: float = 30.0,
        *,
        token: str | None = None,
        region: str | None = None,
        namespace: str | None = None,
        tls: TLSFiles = (None, None, None),
    ) -> None:
        self.address = agent_address(address)
        try:
            self.ssl_context = cli_context(*tls)
        except TLSError as err:
            raise CLIError(f"Error configuring TLS: {err}") from None
        self.timeout = timeout
        self.token = agent_token(token)
        self.region = region or os.environ.get("NOMAD_REGION") or ""
        self.namespace = namespace or os.environ.get("NOMAD_NAMESPACE") or ""
        self.last_index = 0

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        """The full URL of ``path`` with ``params`` and the region/namespace defaults."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if self.region:
            query.setdefault("region", self.region)
        if self.namespace:
            query.setdefault("namespace", self.namespace)
        text = urllib.parse.urlencode(
            {k: str(v).lower() if isinstance(v, bool) else v for k, v in query.items()}
        )
        return self.address + path + (f"?{text}" if text else "")

    def read(
        self,
        path: str,
        action: str,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """GET ``path`` and decode its JSON; ``action`` names the step in errors."""
        return self._send(self._request("GET", path, params), action, timeout)

    def blocking_read(self, path: str, action: str, index: int, wait: float) -> Any:
        """A blocking query: returns once the data changed after ``index`` or ``wait`` passed."""
        params = {"index": index, "wait": f"{int(wait * 1000)}ms"}
        return self.read(path, action, params, timeout=wait + 15)

    def write(self, path: str, body: Any, action: str, params: dict[str, Any] | None = None) -> Any:
        """PUT ``body`` to ``path`` (Nomad's CLI writes with PUT)."""
        req = self._request("PUT", path, params, json.dumps(body).encode())
        req.add_header("Content-Type", "application/json")
        return self._send(req, action)

    def delete(self, path: str, action: str, params: dict[str, Any] | None = None) -> Any:
        """DELETE ``path``."""
        return self._send(self._request("DELETE", path, params), action)

    def raw(
        self,
        method: str,
        path: str,
        action: str,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send a request and return the open response (for streams and binary bodies);
        the caller closes it."""
        req = self._request(method, path, params, body)
        return self._open(req, action, timeout)

    def _request(
        self, method: str, path: str, params: dict[str, Any] | None, data: bytes | None = None
    ) -> urllib.request.Request:
        req = urllib.request.Request(self.url(path, params), data=data, method=method)
        if self.token:
            req.add_header("X-Nomad-Token", self.token)
        return req

    def _open(self, req: urllib.request.Request, action: str, timeout: float | None = None) -> Any:
        try:
            return urllib.request.urlopen(
                req, timeout=timeout or self.timeout, context=self.ssl_context
            )
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace").strip()
            raise CLIError(
                f"Error {action}: Unexpected response code: {err.code} ({detail})"
            ) from None
        except (urllib.error.URLError, OSError) as err:
            raise CLIError(f"Error {action}: {go_transport_error(req, err)}") from None

    def _send(self, req: urllib.request.Request, action: str, timeout: float | None = None) -> Any:
        with self._open(req, action, timeout) as resp:
            try:
                raw = resp.read()
            except OSError as err:
                raise CLIError(f"Error {action}: {go_transport_error(req, err)}") from None
            index = resp.headers.get("X-Nomad-Index")
            if index and index.isdigit():
                self.last_index = int(index)
        return json.loads(raw) if raw else {}


def go_transport_error(req: urllib.request.Request, err: BaseException) -> str:
    """Describe a connection failure as Go's HTTP client does:
    ``Get "http://host:port/path": dial tcp host:port: connect: connection refused``."""
    reason: Any = getattr(err, "reason", err)
    method = req.get_method().capitalize()
    url = req.full_url.split("?", 1)[0]
    parsed = urllib.parse.urlsplit(url)
    host = f"{parsed.hostname}:{parsed.port or (443 if parsed.scheme == 'https' else 80)}"
    if isinstance(reason, ConnectionRefusedError):
        detail = f"dial tcp {host}: connect: connection refused"
    elif isinstance(reason, socket.gaierror):
        detail = f"dial tcp: lookup {parsed.hostname}: no such host"
    elif isinstance(reason, (TimeoutError, socket.timeout)):
        detail = "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    else:
        detail = str(getattr(reason, "strerror", None) or reason)
    return f'{method} "{url}": {detail}'


_API_OPTIONS = (
    click.option(
        "-address",
        "--address",
        "address",
        default=None,
        help="The agent's HTTP address (env CARAVAN_ADDR or NOMAD_ADDR).",
    ),
    click.option(
        "-token",
        "--token",
        "token",
        default=None,
        help="The ACL token (env CARAVAN_TOKEN or NOMAD_TOKEN).",
    ),
    click.option("-region", "--region", "region", default=None, help="The region to talk to."),
    click.option(
        "-namespace", "--namespace", "namespace", default=None, help="The namespace (default)."
    ),
    click.option(
        "-ca-cert", "--ca-cert", "ca_cert", default=None, help="CA file (env CARAVAN_CACERT)."
    ),
    click.option(
        "-client-cert",
        "--client-cert",
        "client_cert",
        default=None,
        help="Client certificate for mutual TLS (env CARAVAN_CLIENT_CERT).",
    ),
    click.option(
        "-client-key",
        "--client-key",
        "client_key",
        default=None,
        help="Client certificate's key (env CARAVAN_CLIENT_KEY).",
    ),
)


def api_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``-address``, ``-token``, ``-region``, ``-namespace`` and the TLS file flags
    (``-ca-cert``, ``-client-cert``, ``-client-key``); the command receives an
    :class:`AgentClient` as its ``api`` argument instead."""

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        address: str | None,
        token: str | None,
        region: str | None,
        namespace: str | None,
        ca_cert: str | None,
        client_cert: str | None,
        client_key: str | None,
        **kwargs: Any,
    ) -> Any:
        api = AgentClient(
            address,
            token=token,
            region=region,
            namespace=namespace,
            tls=(ca_cert, client_cert, client_key),
        )
        return func(*args, api=api, **kwargs)

    for option in reversed(_API_OPTIONS):
        wrapper = option(wrapper)
    return wrapper
