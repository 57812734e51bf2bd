"""Load balancers that render a Jinja2 template for a real proxy binary (nginx, HAProxy).

Such a plugin shares most of its flow with every other: build the route table from the
instances' ``urlprefix-`` tags, render the built-in template (or the user's ``template``),
check the text with the proxy's own binary in a scratch directory, and reload the running
proxy by signalling the pid in its ``pid_file`` (or running ``reload_command``). A plugin
subclasses :class:`ProxyLoadBalancer` and :class:`ProxyConfig` and writes only what is its
own: how the route table is laid out for its template, the command line that checks a
config, and how the binary's messages read.

Needs ``jinja2``, which plugins built on this module list among their dependencies.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
from abc import abstractmethod
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import jinja2
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import PluginError
from .loadbalancers import LoadBalancer, RenderOptions
from .routetable import ChecksRequired, RouteTable, build_route_table
from .services import CheckStatus, ServiceInstance
from .validation import ValidationResult


class ProxyConfig(BaseModel):
    """The config keys every template-rendered proxy shares; a plugin's own config subclasses
    it, giving ``out``, ``binary``, ``listen``, ``pid_file`` and ``reload_signal`` its own
    defaults and adding the keys of its proxy.

    :ivar template: a Jinja2 template to render instead of the built-in one; empty for the
        built-in one.
    :ivar out: the config file to write.
    :ivar binary: the proxy's executable, used to check a config.
    :ivar listen: where the proxy accepts HTTP traffic: ``port`` or ``address:port``; TCP
        routes listen on their own port at the same address.
    :ivar tag_prefix: service tags starting with it become routes.
    :ivar service_status: check statuses that count as healthy.
    :ivar checks_required: ``one`` or ``all`` of an instance's checks must have such a status.
    :ivar no_route_status: the status of a request no route matches, or whose route has no
        healthy instance.
    :ivar ca_file: CA bundle for ``proto=https`` upstreams without ``tlsskipverify=true``.
    :ivar pid_file: the proxy's (master's) pid file; reload signals the process it names.
    :ivar reload_signal: the signal that makes the proxy re-read its config.
    :ivar reload_command: run instead of signalling, e.g. ``["systemctl", "reload", "nginx"]``.
    """

    model_config = ConfigDict(extra="forbid")

    template: str = ""
    out: str = Field(min_length=1)
    binary: str = Field(min_length=1)
    listen: str
    tag_prefix: str = Field(default="urlprefix-", min_length=1)
    service_status: list[CheckStatus] = Field(default_factory=lambda: ["passing"], min_length=1)
    checks_required: ChecksRequired = "one"
    no_route_status: int = Field(default=503, ge=200, le=599)
    ca_file: str = "/etc/ssl/certs/ca-certificates.crt"
    pid_file: str
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
            example = cls.model_fields["reload_signal"].default
            raise ValueError(f"{value!r} is not a signal name such as {example}")
        return value


async def run_command(plugin: str, command: list[str]) -> tuple[int, str]:
    """Run ``command``; return its exit status and its stdout and stderr together.

    :param plugin: the plugin's name, which error messages start with.
    :raises PluginError: the executable cannot be started (missing, not executable).
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
    except OSError as err:
        raise PluginError(f"{plugin}: cannot run {command[0]!r}: {err.strerror}") from None
    output, _ = await proc.communicate()
    return proc.returncode or 0, output.decode(errors="replace")


def signal_pid_file(plugin: str, pid_file: str, signal_name: str) -> None:
    """Send ``signal_name`` to the process whose pid is in ``pid_file``.

    :param plugin: the plugin's name, which error messages start with.
    :raises PluginError: the file is missing or holds no pid, or no such process runs.
    """
    try:
        pid = int(Path(pid_file).read_text().strip())
    except FileNotFoundError:
        raise PluginError(
            f"{plugin}: pid file {pid_file} not found; is {plugin} running?"
        ) from None
    except ValueError:
        raise PluginError(f"{plugin}: pid file {pid_file} does not hold a process id") from None
    try:
        os.kill(pid, getattr(signal, signal_name))
    except ProcessLookupError:
        raise PluginError(
            f"{plugin}: no process {pid} (from {pid_file}); is {plugin} running?"
        ) from None
    except PermissionError:
        raise PluginError(
            f"{plugin}: not allowed to signal process {pid} (from {pid_file})"
        ) from None


class ProxyLoadBalancer(LoadBalancer):
    """A :class:`LoadBalancer` that renders a Jinja2 template and checks it with the real
    proxy binary.

    Subclasses set ``name``, ``config_schema`` (a :class:`ProxyConfig`), ``default_path``,
    ``template_package`` and ``builtin_template`` (the package whose ``templates/`` folder
    holds the built-in template, and its file name), ``scratch_name`` and ``check_name``,
    and implement :meth:`template_variables`, :meth:`check_command`, :meth:`readable`,
    :meth:`is_error` and :meth:`is_warning`.
    """

    template_package: ClassVar[str]
    builtin_template: ClassVar[str]
    #: The file name the config is checked under, in a scratch directory.
    scratch_name: ClassVar[str]
    #: How messages name the check, e.g. ``nginx -t``.
    check_name: ClassVar[str]

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        # The contract reads default_path for apply(); the configured ``out`` wins.
        self.default_path = self.config.out  # type: ignore[misc]

    @abstractmethod
    def template_variables(self, table: RouteTable, listen: str) -> dict[str, Any]:
        """The variables the template sees besides ``config`` and ``table``, for the route
        ``table`` and the ``address:port`` or ``port`` HTTP traffic is accepted on."""

    @abstractmethod
    def check_command(self, path: Path) -> list[str]:
        """The command line checking the config written at ``path`` (in a scratch
        directory of its own)."""

    @abstractmethod
    def readable(self, line: str, path: str) -> str | None:
        """A line of the check's output as a person should read it (without timestamps,
        with the scratch file ``path`` turned into a line number), or None to leave it out."""

    @abstractmethod
    def is_error(self, line: str) -> bool:
        """True when a :meth:`readable` line reports an error."""

    @abstractmethod
    def is_warning(self, line: str) -> bool:
        """True when a :meth:`readable` line reports a warning."""

    @cached_property
    def template(self) -> jinja2.Template:
        """The compiled template: the user's ``template`` file, else the built-in one.

        :raises PluginError: the user's template cannot be read or is not valid Jinja2.
        """
        loader = jinja2.PackageLoader(self.template_package, "templates")
        env = jinja2.Environment(
            loader=loader,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        if not self.config.template:
            return env.get_template(self.builtin_template)
        path = Path(self.config.template)
        try:
            return env.from_string(path.read_text())
        except OSError as err:
            raise PluginError(f"{self.name}: template {path}: {err.strerror}") from None
        except jinja2.TemplateSyntaxError as err:
            raise PluginError(f"{self.name}: template {path}:{err.lineno}: {err.message}") from None

    def render(self, instances: list[ServiceInstance], options: RenderOptions) -> str:
        """The proxy's config for ``instances``; deterministic.

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
        try:
            return self.template.render(
                config=self.config, table=table, **self.template_variables(table, listen)
            )
        except jinja2.TemplateError as err:
            raise PluginError(
                f"{self.name}: template {self.config.template or 'built-in'}: {err}"
            ) from None

    async def validate(self, config_text: str) -> ValidationResult:
        """Run :meth:`check_command` on ``config_text`` written to a scratch directory.

        :returns: the proxy's error lines as errors (its whole output if it failed without
            one), its warning lines as warnings.
        :raises PluginError: the proxy's binary cannot be run.
        """
        with tempfile.TemporaryDirectory(prefix=f"caravan-{self.name}-") as scratch:
            path = Path(scratch) / self.scratch_name
            path.write_text(config_text)
            status, output = await run_command(self.name, self.check_command(path))
        readable = (self.readable(line, str(path)) for line in output.splitlines() if line.strip())
        lines = [line for line in readable if line is not None]
        errors = [line for line in lines if self.is_error(line)]
        if status != 0 and not errors:
            errors = lines or [f"{self.check_name} exited with {status}"]
        warnings = [line for line in lines if self.is_warning(line)]
        return ValidationResult(errors=errors if status != 0 else [], warnings=warnings)

    async def reload(self, path: Path) -> None:
        """Make the proxy load the config at ``path``: run ``reload_command`` when set,
        otherwise send ``reload_signal`` to the master process named in ``pid_file``.

        :raises PluginError: the command failed, or the pid file or process is missing.
        """
        if self.config.reload_command:
            status, output = await run_command(self.name, self.config.reload_command)
            if status != 0:
                raise PluginError(
                    f"{self.name}: reload_command exited with {status}: {output.strip()}".rstrip(
                        ": "
                    )
                )
            return
        signal_pid_file(self.name, self.config.pid_file, self.config.reload_signal)
