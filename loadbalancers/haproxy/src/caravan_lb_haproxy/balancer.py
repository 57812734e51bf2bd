"""The ``haproxy`` load balancer: a ``haproxy.cfg`` from ``urlprefix-`` tags.

Renders the built-in Jinja2 template (or the configured ``template``) from the route table
of :mod:`caravan_plugins.urlprefix`: one HTTP frontend routing by host and path prefix to a
``backend`` per route with weighted ``server`` lines, and a ``mode tcp`` frontend per TCP
route. Checks a config with the real ``haproxy -c`` and reloads HAProxy with SIGUSR2 to the
master process (or ``reload_command``).
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

from .config import DEFAULT_OUT, HAProxyConfig
from .plan import plan
from .process import run, signal_pid_file

BUILTIN_TEMPLATE = "haproxy.cfg.j2"
# "[ALERT]    (123) : config : parsing [/tmp/x/haproxy.cfg:3] : ..." -> "[ALERT] line 3: ..."
_PREFIX = re.compile(r"^\[(ALERT|WARNING|NOTICE)\]\s+\(\d+\)\s*:\s*(?:config\s*:\s*)?")
# Lines every failed check prints; they repeat what the lines before them say.
_NOISE = ("[NOTICE]", "Error(s) found in configuration file", "Fatal errors found")


class HAProxyLoadBalancer(LoadBalancer):
    """Entry point ``haproxy`` in ``caravan.loadbalancers``."""

    name: ClassVar[str] = "haproxy"
    config_schema = HAProxyConfig
    default_path: ClassVar[str] = DEFAULT_OUT

    def __init__(self, config: HAProxyConfig | None = None) -> None:
        super().__init__(config)
        # The contract reads default_path for apply(); the configured ``out`` wins.
        self.default_path = self.config.out  # type: ignore[misc]

    @cached_property
    def template(self) -> jinja2.Template:
        """The compiled template: the user's ``template`` file, else the built-in one.

        :raises PluginError: the user's template cannot be read or is not valid Jinja2.
        """
        loader = jinja2.PackageLoader("caravan_lb_haproxy", "templates")
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
            raise PluginError(f"haproxy: template {path}: {err.strerror}") from None
        except jinja2.TemplateSyntaxError as err:
            raise PluginError(f"haproxy: template {path}:{err.lineno}: {err.message}") from None

    def render(self, instances: list[ServiceInstance], options: RenderOptions) -> str:
        """The HAProxy config for ``instances`` (see the module doc); deterministic.

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
        host, _, port = listen.rpartition(":")
        laid_out = plan(table, self.config.no_route_status, self.config.ca_file)
        try:
            text = self.template.render(
                config=self.config,
                listen=f"{host}:{port}",
                listen_host=host,
                http=laid_out.http,
                tcp=laid_out.tcp,
                notes=laid_out.notes,
                table=table,
            )
        except jinja2.TemplateError as err:
            raise PluginError(
                f"haproxy: template {self.config.template or 'built-in'}: {err}"
            ) from None
        # HAProxy rejects a file whose last line has no newline.
        return text if text.endswith("\n") else text + "\n"

    async def validate(self, config_text: str) -> ValidationResult:
        """Run ``haproxy -c`` on ``config_text`` written to a scratch file.

        :returns: HAProxy's ``[ALERT]`` lines as errors (its whole output if it failed
            without one), ``[WARNING]`` lines as warnings.
        :raises PluginError: the haproxy binary cannot be run.
        """
        with tempfile.TemporaryDirectory(prefix="caravan-haproxy-") as scratch:
            cfg = Path(scratch) / "haproxy.cfg"
            cfg.write_text(config_text)
            status, output = await run([self.config.binary, "-c", "-f", str(cfg)])
        lines = [
            _readable(line, str(cfg))
            for line in output.splitlines()
            if line.strip() and not any(noise in line for noise in _NOISE)
        ]
        errors = [line for line in lines if line.startswith("[ALERT]")]
        if status != 0 and not errors:
            errors = lines or [f"haproxy -c exited with {status}"]
        warnings = [line for line in lines if line.startswith("[WARNING]")]
        return ValidationResult(errors=errors if status != 0 else [], warnings=warnings)

    async def reload(self, path: Path) -> None:
        """Make HAProxy load the config at ``path``: run ``reload_command`` when set,
        otherwise send ``reload_signal`` to the master process named in ``pid_file``.

        :raises PluginError: the command failed, or the pid file or process is missing.
        """
        if self.config.reload_command:
            status, output = await run(self.config.reload_command)
            if status != 0:
                raise PluginError(
                    f"haproxy: reload_command exited with {status}: {output.strip()}".rstrip(": ")
                )
            return
        signal_pid_file(self.config.pid_file, self.config.reload_signal)


def _readable(line: str, cfg: str) -> str:
    line = _PREFIX.sub(r"[\1] ", line.strip())
    return re.sub(rf"parsing \[{re.escape(cfg)}:(\d+)\]\s*:\s*", r"line \1: ", line)
