"""Services a group or task publishes, and the health checks attached to them."""

from __future__ import annotations

from typing import Any

from caravan.structs.base import JobStruct


class CheckRestart(JobStruct):
    """``check_restart``: restart the task after ``limit`` unhealthy checks past ``grace``."""

    limit: int = 0
    grace: int | None = None
    ignore_warnings: bool = False


class ServiceCheck(JobStruct):
    """A ``check`` block. ``interval`` and ``timeout`` are nanoseconds."""

    name: str = ""
    type: str = ""
    command: str = ""
    args: list[str] | None = None
    path: str = ""
    protocol: str = ""
    port_label: str = ""
    expose: bool = False
    address_mode: str = ""
    advertise: str = ""
    interval: int = 0
    timeout: int = 0
    check_restart: CheckRestart | None = None
    initial_status: str = ""
    notes: str = ""
    tls_server_name: str = ""
    tls_skip_verify: bool = False
    header: dict[str, list[str]] | None = None
    method: str = ""
    body: str = ""
    grpc_service: str = ""
    grpc_use_tls: bool = False
    task_name: str = ""
    success_before_passing: int = 0
    failures_before_critical: int = 0
    failures_before_warning: int = 0
    on_update: str = ""


class Service(JobStruct):
    """A ``service`` block: a name, tags and a port label, registered with a discovery backend."""

    name: str = ""
    tags: list[str] | None = None
    canary_tags: list[str] | None = None
    enable_tag_override: bool = False
    port_label: str = ""
    address_mode: str = ""
    address: str = ""
    checks: list[ServiceCheck] | None = None
    check_restart: CheckRestart | None = None
    connect: dict[str, Any] | None = None
    meta: dict[str, str] | None = None
    canary_meta: dict[str, str] | None = None
    tagged_addresses: dict[str, str] | None = None
    task_name: str = ""
    on_update: str = ""
    identity: dict[str, Any] | None = None
    weights: dict[str, Any] | None = None
    provider: str = ""
    cluster: str = ""
    kind: str = ""
