"""The haproxy load balancer's config block.

::

    plugin "haproxy" {
      config {
        template       = "/etc/caravan/haproxy.cfg.j2"
        out            = "/etc/haproxy/haproxy.cfg"
        binary         = "haproxy"
        listen         = "8080"
        pid_file       = "/run/haproxy.pid"
        reload_signal  = "SIGUSR2"
      }
    }

Run HAProxy in master-worker mode (``haproxy -W -f <out> -p <pid_file>``) so SIGUSR2 to the
master reloads it without dropping connections.
"""

from __future__ import annotations

import signal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from caravan_plugins.routetable import ChecksRequired
from caravan_plugins.services import CheckStatus

DEFAULT_OUT = "/etc/haproxy/haproxy.cfg"


class HAProxyConfig(BaseModel):
    """The ``plugin "haproxy" { config { ... } }`` block.

    :ivar template: a Jinja2 template to render instead of the built-in one; empty for the
        built-in one.
    :ivar out: the config file to write.
    :ivar binary: the HAProxy executable, used to check a config (``haproxy -c``).
    :ivar listen: where HAProxy accepts HTTP traffic: ``port`` or ``address:port``; TCP
        routes listen on their own port at the same address.
    :ivar tag_prefix: service tags starting with it become routes.
    :ivar service_status: check statuses that count as healthy.
    :ivar checks_required: ``one`` or ``all`` of an instance's checks must have such a status.
    :ivar timeout_connect: ``timeout connect`` of the ``defaults`` section.
    :ivar timeout_client: ``timeout client``.
    :ivar timeout_server: ``timeout server``.
    :ivar no_route_status: the status of a request no route matches, or whose route has no
        healthy instance.
    :ivar ca_file: CA bundle for ``proto=https`` upstreams without ``tlsskipverify=true``.
    :ivar pid_file: the master's pid file (``-p``); reload signals the process it names.
    :ivar reload_signal: SIGUSR2 for master-worker mode, SIGHUP for the old systemd wrapper.
    :ivar reload_command: run instead of signalling, e.g. ``["systemctl", "reload", "haproxy"]``.
    """

    model_config = ConfigDict(extra="forbid")

    template: str = ""
    out: str = Field(default=DEFAULT_OUT, min_length=1)
    binary: str = Field(default="haproxy", min_length=1)
    listen: str = "8080"
    tag_prefix: str = Field(default="urlprefix-", min_length=1)
    service_status: list[CheckStatus] = Field(default_factory=lambda: ["passing"], min_length=1)
    checks_required: ChecksRequired = "one"
    timeout_connect: str = "5s"
    timeout_client: str = "30s"
    timeout_server: str = "30s"
    no_route_status: int = Field(default=503, ge=200, le=599)
    ca_file: str = "/etc/ssl/certs/ca-certificates.crt"
    pid_file: str = "/run/haproxy.pid"
    reload_signal: str = "SIGUSR2"
    reload_command: list[str] = Field(default_factory=list)

    @field_validator("listen")
    @classmethod
    def _address_port(cls, value: str) -> str:
        _, _, port = value.rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f'expected "port" or "address:port", got {value!r}')
        return value

    @field_validator("reload_signal")
    @classmethod
    def _signal_name(cls, value: str) -> str:
        if not isinstance(getattr(signal, value, None), signal.Signals):
            raise ValueError(f"{value!r} is not a signal name such as SIGUSR2")
        return value
