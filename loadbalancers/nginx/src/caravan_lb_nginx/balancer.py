"""The ``nginx`` load balancer: a whole ``nginx.conf`` from ``urlprefix-`` tags.

Renders the built-in Jinja2 template (or the configured ``template``) from the route table
of :mod:`caravan_plugins.urlprefix`: an ``upstream`` per route with weighted ``server``
lines, a ``server`` block per host with a ``location`` per path, and a ``stream`` block for
TCP routes. Checks a config with the real ``nginx -t`` and reloads nginx with SIGHUP to the
pid in ``pid_file`` (or ``reload_command``).
"""

from __future__ import annotations

import re
import tempfile
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import jinja2

from caravan_plugins import (
    LoadBalancer,
    PluginError,
    RenderOptions,
    ServiceInstance,
    ValidationResult,
)
from caravan_plugins.routetable import build_route_table

from .config import DEFAULT_OUT, NginxConfig
from .plan import plan
from .process import run, signal_pid_file

BUILTIN_TEMPLATE = "nginx.conf.j2"
# "2024/01/02 03:04:05 [emerg] 12#12: " before each message says nothing to a reader.
_LOG_PREFIX = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: ")


class NginxLoadBalancer(LoadBalancer):
    """Entry point ``nginx`` in ``caravan.loadbalancers``."""

    name: ClassVar[str] = "nginx"
    config_schema = NginxConfig
    default_path: ClassVar[str] = DEFAULT_OUT

    def __init__(self, config: NginxConfig | None = None) -> None:
        super().__init__(config)
        # The contract reads default_path for apply(); the configured ``out`` wins.
        self.default_path = self.config.out  # type: ignore[misc]

    @cached_property
    def template(self) -> jinja2.Template:
        """The compiled template: the user's ``template`` file, else the built-in one.

        :raises PluginError: the user's template cannot be read or is not valid Jinja2.
        """
        loader = jinja2.PackageLoader("caravan_lb_nginx", "templates")
        env = jinja2.Environment(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        if not self.config.template:
            return env.get_template(BUILTIN_TEMPLATE)
        path = Path(self.config.template)
        try:
            return env.from_string(path.read_text())
        except OSError as err:
            raise PluginError(f"nginx: template {path}: {err.strerror}") from None
        except jinja2.TemplateSyntaxError as err:
            raise PluginError(f"nginx: template {path}:{err.lineno}: {err.message}") from None

    def render(self, instances: list[ServiceInstance], options: RenderOptions) -> str:
        """The nginx config for ``instances`` (see the module doc); deterministic.

        ``options.listen_port`` (with ``options.listen_address``) overrides ``listen``.

        :raises PluginError: the user's template is broken or uses an unknown variable.
        """
        table = build_route_table(
            instances,
            self.config.tag_prefix,
            services=options.services,
            passing_only=options.passing_only,
            service_status=self.config.service_status,
            checks_required=self.config.checks_required,
        )
        listen = self.config.listen
        if options.listen_port is not None:
            listen = f"{options.listen_address}:{options.listen_port}"
        host, _, _ = listen.rpartition(":")
        laid_out = plan(table, self.config.no_route_status)
        try:
            return self.template.render(
                config=self.config,
                listen=listen,
                listen_host=f"{host}:" if host else "",
                upstreams=laid_out.upstreams,
                servers=laid_out.servers,
                tcp_upstreams=laid_out.tcp_upstreams,
                streams=laid_out.streams,
                notes=laid_out.notes,
                table=table,
            )
        except jinja2.TemplateError as err:
            raise PluginError(
                f"nginx: template {self.config.template or 'built-in'}: {err}"
            ) from None

    async def validate(self, config_text: str) -> ValidationResult:
        """Run ``nginx -t`` on ``config_text`` in a scratch prefix directory.

        :returns: nginx's ``[emerg]`` lines as errors (its whole output if it failed without
            one), ``[warn]`` lines as warnings.
        :raises PluginError: the nginx binary cannot be run.
        """
        with tempfile.TemporaryDirectory(prefix="caravan-nginx-") as prefix:
            conf = Path(prefix) / "nginx.conf"
            conf.write_text(config_text)
            command = [self.config.binary, "-t", "-q", "-p", prefix, "-e", "stderr", "-c"]
            status, output = await run([*command, str(conf)])
        lines = [_readable(line, str(conf)) for line in output.splitlines() if line.strip()]
        errors = [line for line in lines if "[emerg]" in line or "[alert]" in line]
        if status != 0 and not errors:
            errors = lines or [f"nginx -t exited with {status}"]
        warnings = [line for line in lines if "[warn]" in line]
        return ValidationResult(errors=errors if status != 0 else [], warnings=warnings)

    async def reload(self, path: Path) -> None:
        """Make nginx re-read its config: run ``reload_command`` when set, otherwise send
        ``reload_signal`` to the master process named in ``pid_file``.

        :raises PluginError: the command failed, or the pid file or process is missing.
        """
        if self.config.reload_command:
            status, output = await run(self.config.reload_command)
            if status != 0:
                raise PluginError(
                    f"nginx: reload_command exited with {status}: {output.strip()}".rstrip(": ")
                )
            return
        signal_pid_file(self.config.pid_file, self.config.reload_signal)


def _readable(line: str, conf: str) -> str:
    line = _LOG_PREFIX.sub(r"\1 ", line.strip()).removeprefix("nginx: ")
    return line.replace(f" in {conf}:", " at line ")
