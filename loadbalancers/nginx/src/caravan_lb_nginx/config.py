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

from pydantic import Field

from caravan_plugins.proxy import ProxyConfig

DEFAULT_OUT = "/etc/nginx/nginx.conf"


class NginxConfig(ProxyConfig):
    """The ``plugin "nginx" { config { ... } }`` block: the keys of
    :class:`~caravan_plugins.proxy.ProxyConfig` with nginx's defaults, and nginx's own.

    :ivar error_log: nginx's ``error_log`` target.
    :ivar temp_dir: where nginx keeps request and response bodies; empty for nginx's
        compiled-in paths.
    :ivar worker_processes: nginx's ``worker_processes``.
    :ivar max_fails: failed attempts before a server is skipped (passive health check).
    :ivar fail_timeout: how long a failed server is skipped.
    :ivar stream_module: the ``load_module`` path of the stream module, written only when
        there are TCP routes; empty when nginx has it built in.
    """

    out: str = Field(default=DEFAULT_OUT, min_length=1)
    binary: str = Field(default="nginx", min_length=1)
    listen: str = "80"
    pid_file: str = "/run/nginx.pid"
    reload_signal: str = "SIGHUP"
    error_log: str = "stderr"
    temp_dir: str = ""
    worker_processes: str = "auto"
    max_fails: int = Field(default=1, ge=0)
    fail_timeout: str = "10s"
    stream_module: str = "/usr/lib/nginx/modules/ngx_stream_module.so"
