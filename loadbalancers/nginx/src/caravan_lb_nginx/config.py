"""The nginx load balancer's config block.

::

    plugin "nginx" {
      config {
        template        = "/etc/caravan/nginx.conf.j2"
        out             = "/etc/nginx/nginx.conf"
        binary          = "nginx"
        listen          = "80"
        pid_file        = "/run/nginx.pid"
      }
    }

The rendered file is a whole ``nginx.conf`` (it holds ``http`` and ``stream`` blocks); start
nginx with ``-c <out>``.
"""

from __future__ import annotations

import signal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from caravan_plugins.routetable import ChecksRequired
from caravan_plugins.services import CheckStatus

DEFAULT_OUT = "/etc/nginx/nginx.conf"


class NginxConfig(BaseModel):
    """The ``plugin "nginx" { config { ... } }`` block.

    :ivar template: a Jinja2 template to render instead of the built-in one; empty for the
        built-in one.
    :ivar out: the config file to write.
    :ivar binary: the nginx executable, used to check a config (``nginx -t``).
    :ivar listen: where nginx accepts HTTP traffic: ``port`` or ``address:port``; TCP
        routes listen on their own port at the same address.
    :ivar tag_prefix: service tags starting with it become routes.
    :ivar service_status: check statuses that count as healthy.
    :ivar checks_required: ``one`` or ``all`` of an instance's checks must have such a status.
    :ivar pid_file: nginx's ``pid`` file; reload signals the process it names.
    :ivar error_log: nginx's ``error_log`` target.
    :ivar temp_dir: where nginx keeps request and response bodies; empty for nginx's
        compiled-in paths.
    :ivar worker_processes: nginx's ``worker_processes``.
    :ivar max_fails: failed attempts before a server is skipped (passive health check).
    :ivar fail_timeout: how long a failed server is skipped.
    :ivar no_route_status: the status of a request no route matches, or whose route has no
        healthy instance.
    :ivar ca_file: CA bundle for ``proto=https`` upstreams without ``tlsskipverify=true``.
    :ivar stream_module: the ``load_module`` path of the stream module, written only when
        there are TCP routes; empty when nginx has it built in.
    :ivar reload_signal: the signal that makes nginx re-read its config.
    :ivar reload_command: run instead of signalling, e.g. ``["systemctl", "reload", "nginx"]``.
    """

    model_config = ConfigDict(extra="forbid")

    template: str = ""
    out: str = Field(default=DEFAULT_OUT, min_length=1)
    binary: str = Field(default="nginx", min_length=1)
    listen: str = "80"
    tag_prefix: str = Field(default="urlprefix-", min_length=1)
    service_status: list[CheckStatus] = Field(default_factory=lambda: ["passing"], min_length=1)
    checks_required: ChecksRequired = "one"
    pid_file: str = "/run/nginx.pid"
    error_log: str = "stderr"
    temp_dir: str = ""
    worker_processes: str = "auto"
    max_fails: int = Field(default=1, ge=0)
    fail_timeout: str = "10s"
    no_route_status: int = Field(default=503, ge=200, le=599)
    ca_file: str = "/etc/ssl/certs/ca-certificates.crt"
    stream_module: str = "/usr/lib/nginx/modules/ngx_stream_module.so"
    reload_signal: str = "SIGHUP"
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
            raise ValueError(f"{value!r} is not a signal name such as SIGHUP")
        return value
