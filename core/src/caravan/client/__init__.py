"""The client agent: fingerprint, registration and heartbeats, allocation and task runners
with their hooks, restart policy, task events, durable client state and recovery.

Entry point: :class:`Client` (an async context manager). The servers are reached through
:class:`ServerRPC`; the HTTP API's ``/v1/client/*`` endpoints through
:class:`~caravan.client.fs.ClientFS`.
"""

from __future__ import annotations

from .alloc_runner import AllocRunner, client_status
from .client import Client
from .config import ClientConfig, ReservedConfig
from .rpc import ServerRPC
from .task_runner import TaskRunner

__all__ = [
    "AllocRunner",
    "Client",
    "ClientConfig",
    "ReservedConfig",
    "ServerRPC",
    "TaskRunner",
    "client_status",
]
