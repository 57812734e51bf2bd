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

from pydantic import Field

from caravan_plugins.proxy import ProxyConfig

DEFAULT_OUT = "/etc/haproxy/haproxy.cfg"


class HAProxyConfig(ProxyConfig):
    """The ``plugin "haproxy" { config { ... } }`` block: the keys of
    :class:`~caravan_plugins.proxy.ProxyConfig` with HAProxy's defaults, and HAProxy's own.

    ``pid_file`` is the master's pid file (``-p``); ``reload_signal`` is SIGUSR2 for
    master-worker mode, SIGHUP for the old systemd wrapper.

    :ivar timeout_connect: ``timeout connect`` of the ``defaults`` section.
    :ivar timeout_client: ``timeout client``.
    :ivar timeout_server: ``timeout server``.
    """

    out: str = Field(default=DEFAULT_OUT, min_length=1)
    binary: str = Field(default="haproxy", min_length=1)
    listen: str = "8080"
    pid_file: str = "/run/haproxy.pid"
    reload_signal: str = "SIGUSR2"
    timeout_connect: str = "5s"
    timeout_client: str = "30s"
    timeout_server: str = "30s"
