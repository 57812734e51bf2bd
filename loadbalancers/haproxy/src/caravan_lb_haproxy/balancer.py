"""The ``haproxy`` load balancer: a ``haproxy.cfg`` from ``urlprefix-`` tags.

Renders the built-in Jinja2 template (or the configured ``template``) from the route table
of :mod:`caravan_plugins.urlprefix`: one HTTP frontend routing by host and path prefix to a
``backend`` per route with weighted ``server`` lines, and a ``mode tcp`` frontend per TCP
route. Checks a config with the real ``haproxy -c`` and reloads HAProxy with SIGUSR2 to the
master process (or ``reload_command``); that flow is the SDK's
:class:`~caravan_plugins.proxy.ProxyLoadBalancer`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from caravan_plugins import RenderOptions, ServiceInstance
from caravan_plugins.proxy import ProxyLoadBalancer
from caravan_plugins.routetable import RouteTable

from .config import DEFAULT_OUT, HAProxyConfig
from .plan import plan

# "[ALERT]    (123) : config : parsing [/tmp/x/haproxy.cfg:3] : ..." -> "[ALERT] line 3: ..."
_PREFIX = re.compile(r"^\[(ALERT|WARNING|NOTICE)\]\s+\(\d+\)\s*:\s*(?:config\s*:\s*)?")
# Lines every failed check prints; they repeat what the lines before them say.
_NOISE = ("[NOTICE]", "Error(s) found in configuration file", "Fatal errors found")


class HAProxyLoadBalancer(ProxyLoadBalancer):
    """Entry point ``haproxy`` in ``caravan.loadbalancers``."""

    name: ClassVar[str] = "haproxy"
    config_schema = HAProxyConfig
    default_path: ClassVar[str] = DEFAULT_OUT
    template_package: ClassVar[str] = "caravan_lb_haproxy"
    builtin_template: ClassVar[str] = "haproxy.cfg.j2"
    scratch_name: ClassVar[str] = "haproxy.cfg"
    check_name: ClassVar[str] = "haproxy -c"

    def render(self, instances: list[ServiceInstance], options: RenderOptions) -> str:
        """The HAProxy config for ``instances`` (see the module doc); deterministic.

        :raises PluginError: the user's template is broken or uses an unknown variable.
        """
        text = super().render(instances, options)
        # HAProxy rejects a file whose last line has no newline.
        return text if text.endswith("\n") else text + "\n"

    def template_variables(self, table: RouteTable, listen: str) -> dict[str, Any]:
        """``listen`` (always ``address:port``, the address possibly empty), ``listen_host``,
        the ``http`` backends, the ``tcp`` frontends and the ``notes`` about tags that could
        not be routed."""
        host, _, port = listen.rpartition(":")
        laid_out = plan(table, self.config.no_route_status, self.config.ca_file)
        return {
            "listen": f"{host}:{port}",
            "listen_host": host,
            "http": laid_out.http,
            "tcp": laid_out.tcp,
            "notes": laid_out.notes,
        }

    def check_command(self, path: Path) -> list[str]:
        """``haproxy -c -f <path>``."""
        return [self.config.binary, "-c", "-f", str(path)]

    def readable(self, line: str, path: str) -> str | None:
        """``[ALERT] line 3: ...`` rather than HAProxy's line naming its pid and the scratch
        file; None for the summary lines every failed check ends with."""
        if any(noise in line for noise in _NOISE):
            return None
        line = _PREFIX.sub(r"[\1] ", line.strip())
        return re.sub(rf"parsing \[{re.escape(path)}:(\d+)\]\s*:\s*", r"line \1: ", line)

    def is_error(self, line: str) -> bool:
        """``[ALERT]`` lines."""
        return line.startswith("[ALERT]")

    def is_warning(self, line: str) -> bool:
        """``[WARNING]`` lines."""
        return line.startswith("[WARNING]")
