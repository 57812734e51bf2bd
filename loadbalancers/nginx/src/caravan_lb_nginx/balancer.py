"""The ``nginx`` load balancer: a whole ``nginx.conf`` from ``urlprefix-`` tags.

Renders the built-in Jinja2 template (or the configured ``template``) from the route table
of :mod:`caravan_plugins.urlprefix`: an ``upstream`` per route with weighted ``server``
lines, a ``server`` block per host with a ``location`` per path, and a ``stream`` block for
TCP routes. Checks a config with the real ``nginx -t`` and reloads nginx with SIGHUP to the
pid in ``pid_file`` (or ``reload_command``); that flow is the SDK's
:class:`~caravan_plugins.proxy.ProxyLoadBalancer`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from caravan_plugins.proxy import ProxyLoadBalancer
from caravan_plugins.routetable import RouteTable

from .config import DEFAULT_OUT, NginxConfig
from .plan import plan

# "2024/01/02 03:04:05 [emerg] 12#12: " before each message says nothing to a reader.
_LOG_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: ")


class NginxLoadBalancer(ProxyLoadBalancer):
    """Entry point ``nginx`` in ``caravan.loadbalancers``."""

    name: ClassVar[str] = "nginx"
    config_schema = NginxConfig
    default_path: ClassVar[str] = DEFAULT_OUT
    template_package: ClassVar[str] = "caravan_lb_nginx"
    builtin_template: ClassVar[str] = "nginx.conf.j2"
    scratch_name: ClassVar[str] = "nginx.conf"
    check_name: ClassVar[str] = "nginx -t"

    def template_variables(self, table: RouteTable, listen: str) -> dict[str, Any]:
        """``listen``, ``listen_host`` (``"address:"`` or empty), the ``upstreams`` and
        ``servers`` of HTTP routes, the ``tcp_upstreams`` and ``streams`` of TCP routes and
        the ``notes`` about tags that could not be routed."""
        host, _, _ = listen.rpartition(":")
        laid_out = plan(table, self.config.no_route_status)
        return {
            "listen": listen,
            "listen_host": f"{host}:" if host else "",
            "upstreams": laid_out.upstreams,
            "servers": laid_out.servers,
            "tcp_upstreams": laid_out.tcp_upstreams,
            "streams": laid_out.streams,
            "notes": laid_out.notes,
        }

    def check_command(self, path: Path) -> list[str]:
        """``nginx -t`` quietly, with the scratch directory as nginx's prefix."""
        prefix = str(path.parent)
        return [self.config.binary, "-t", "-q", "-p", prefix, "-e", "stderr", "-c", str(path)]

    def readable(self, line: str, path: str) -> str:
        """``[emerg] unknown directive "x" at line 2`` rather than nginx's timestamped line
        naming the scratch file."""
        line = _LOG_PREFIX.sub(r"\1 ", line.strip()).removeprefix("nginx: ")
        return line.replace(f" in {path}:", " at line ")

    def is_error(self, line: str) -> bool:
        """``[emerg]`` and ``[alert]`` lines."""
        return "[emerg]" in line or "[alert]" in line

    def is_warning(self, line: str) -> bool:
        """``[warn]`` lines."""
        return "[warn]" in line
