"""A small HTTP client for the CLI: the agent address from flags and env, Nomad's error lines."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import click

from .output import CLIError

DEFAULT_ADDRESS = "http://127.0.0.1:4646"


def agent_address(flag: str | None) -> str:
    """The agent's HTTP address: ``-address``, else ``CARAVAN_ADDR``, else ``NOMAD_ADDR``."""
    return (
        flag or os.environ.get("CARAVAN_ADDR") or os.environ.get("NOMAD_ADDR") or DEFAULT_ADDRESS
    ).rstrip("/")


def address_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the ``-address`` flag shared by every command that talks to an agent."""
    return click.option(
        "-address",
        "--address",
        "address",
        default=None,
        help="The agent's HTTP address (env CARAVAN_ADDR or NOMAD_ADDR).",
    )(func)


class AgentClient:
    """Talks JSON to an agent's HTTP API; every failure becomes a one-line :class:`CLIError`."""

    def __init__(self, address: str | None = None, timeout: float = 30.0) -> None:
        self.address = agent_address(address)
        self.timeout = timeout

    def write(self, path: str, body: Any, action: str) -> dict[str, Any]:
        """PUT ``body`` to ``path``; ``action`` names the step in errors ("submitting job")."""
        data = json.dumps(body).encode()
        req = urllib.request.Request(self.address + path, data=data, method="PUT")
        req.add_header("Content-Type", "application/json")
        return self._send(req, action)

    def read(self, path: str, action: str) -> Any:
        """GET ``path`` and decode its JSON."""
        return self._send(urllib.request.Request(self.address + path), action)

    def _send(self, req: urllib.request.Request, action: str) -> Any:
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace").strip()
            raise CLIError(
                f"Error {action}: Unexpected response code: {err.code} ({detail})"
            ) from None
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise CLIError(f"Error {action}: {req.method} {req.full_url}: {reason}") from None
        return json.loads(raw) if raw else {}
