"""``caravan lb``: load balancer configs from the live service catalog.

- ``lb render KIND`` prints (or writes with ``-out``) the config of the ``fabio``,
  ``nginx`` or ``haproxy`` load balancer plugin (any plugin of ``caravan.loadbalancers``,
  picked by name) for the catalog as it is now;
- ``lb watch KIND -out FILE`` keeps that file in step with the catalog: blocking queries,
  a coalescing window (``-wait``), validation with the proxy's own binary, an atomic write
  and a reload (``-reload CMD``, ``-signal SIG`` to ``-pid``/``-pid-file``, or the plugin's
  own reload); a rejected render keeps the running config and is reported on stderr;
- ``lb split SERVICE v1=90 v2=10 [-key version]`` sets a run-time traffic split (see
  :mod:`caravan.lb.splits`); ``-clear`` removes it.

Plugin settings come from ``plugin "KIND" { config { ... } }`` blocks of ``-config`` files
(the agent's config format); ``-out``, ``-template`` and ``-listen`` override them.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import click

from caravan.agent.config import AgentConfig, read_file
from caravan.errors import CaravanError
from caravan.lb import (
    CatalogClient,
    LBWatcher,
    Reloader,
    parse_split,
    set_split,
    write_atomically,
)
from caravan_plugins import LoadBalancer, PluginError, RenderOptions
from caravan_plugins.durations import parse_duration
from caravan_plugins.loader import PluginRegistry
from caravan_plugins.urlprefix import CANARY_KEY

from .agent_client import AgentClient, api_options
from .output import CLIError

T = TypeVar("T")

_KIND = click.argument("kind")
_CONFIG = click.option(
    "-config",
    "--config",
    "configs",
    multiple=True,
    help='A config file (HCL or JSON) with plugin "KIND" { config { ... } }; repeatable.',
)
_SERVICE = click.option(
    "-service", "--service", "services", multiple=True, help="Only this service; repeatable."
)
_LISTEN = click.option("-listen", "--listen", default=None, help="ADDR:PORT the proxy listens on.")
_TEMPLATE = click.option(
    "-template", "--template", default=None, help="A Jinja2 template replacing the built-in one."
)


@click.group(name="lb")
def lb_group() -> None:
    """Render load balancer configs (fabio, nginx, haproxy) from the service catalog."""


@lb_group.command(name="render")
@_KIND
@_CONFIG
@_SERVICE
@_LISTEN
@click.option("-out", "--out", default=None, help="Write the config here instead of stdout.")
@_TEMPLATE
@api_options
def render_command(
    kind: str,
    configs: tuple[str, ...],
    services: tuple[str, ...],
    listen: str | None,
    out: str | None,
    template: str | None,
    api: AgentClient,
) -> None:
    """Print the KIND config for the catalog as it is now."""
    balancer = load_balancer(kind, configs, out=out, template=template)
    options = render_options(services, listen)

    async def render() -> str:
        async with CatalogClient(api.address, api.token) as catalog:
            snapshot = await catalog.snapshot(services=services)
        return balancer.render(snapshot.instances(services), options)

    text = _run(render())
    if out is None:
        click.echo(text, nl=False)
        return
    write_atomically(Path(out), text)


@lb_group.command(name="watch")
@_KIND
@_CONFIG
@_SERVICE
@_LISTEN
@click.option("-out", "--out", required=True, help="The config file to keep up to date.")
@_TEMPLATE
@click.option("-reload", "--reload", "reload_command", default="", help="Shell command to reload.")
@click.option("-signal", "--signal", "signal_name", default="", help="Signal the proxy (SIGHUP).")
@click.option("-pid", "--pid", type=int, default=None, help="The process to signal.")
@click.option("-pid-file", "--pid-file", "pid_file", default="", help="File holding that pid.")
@click.option("-wait", "--wait", default="500ms", help="Coalescing window for changes.")
@api_options
def watch_command(
    kind: str,
    configs: tuple[str, ...],
    services: tuple[str, ...],
    listen: str | None,
    out: str,
    template: str | None,
    reload_command: str,
    signal_name: str,
    pid: int | None,
    pid_file: str,
    wait: str,
    api: AgentClient,
) -> None:
    """Keep the KIND config at -out in step with the catalog until interrupted."""
    try:
        window = parse_duration(wait)
        reloader = Reloader(reload_command, signal_name, pid, pid_file)
    except (ValueError, CaravanError) as err:
        raise CLIError(f"Error: {err}") from None
    balancer = load_balancer(kind, configs, out=out, template=template)

    async def watch() -> None:
        async with CatalogClient(api.address, api.token) as catalog:
            watcher = LBWatcher(
                balancer,
                catalog,
                Path(out),
                options=render_options(services, listen),
                reloader=reloader,
                services=services,
                wait=window,
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            runner = asyncio.create_task(watcher.run(stop))
            await stop.wait()
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    click.echo(f"==> Watching the catalog at {api.address}; writing {out}", err=True)
    _run(watch())


@lb_group.command(name="split")
@click.argument("service")
@click.argument("weights", nargs=-1)
@click.option(
    "-key",
    "--key",
    default=CANARY_KEY,
    show_default=True,
    help="The instance meta key naming each subset (canary: canary/stable).",
)
@click.option("-clear", "--clear", is_flag=True, help="Remove the service's split.")
@api_options
def split_command(
    service: str, weights: tuple[str, ...], key: str, clear: bool, api: AgentClient
) -> None:
    """Split SERVICE's traffic between subsets, e.g. v1=90 v2=10 -key version."""
    if clear and weights:
        raise CLIError("Error: -clear takes no <subset>=<share> arguments")
    split = None if clear else _checked(lambda: parse_split(service, weights, key))

    async def write() -> int:
        async with CatalogClient(api.address, api.token) as catalog:
            return await set_split(catalog, split, service)

    count = _run(write())
    if split is None:
        click.echo(f'Removed the traffic split of "{service}" from {count} instances')
        return
    shares = ", ".join(f"{s}={w:g}" for s, w in split.weights.items())
    click.echo(f'Split "{service}" by {split.key}: {shares} ({count} instances)')


def load_balancer(
    kind: str, configs: tuple[str, ...], *, out: str | None, template: str | None
) -> LoadBalancer:
    """The ``kind`` plugin, configured from ``-config`` files and the flags.

    :raises CLIError: a config file is unreadable, or the plugin is missing or refuses its
        config (the plugin loader's reason is quoted).
    """
    settings: dict[str, Any] = {}
    for path in configs:
        try:
            data, _ = read_file(Path(path))
            settings |= AgentConfig.model_validate(data).plugin_configs().get(kind, {})
        except (CaravanError, ValueError) as err:
            raise CLIError(f"Error loading {path}: {err}") from None
    if out is not None:
        settings["out"] = str(Path(out).resolve())
    if template is not None:
        settings["template"] = str(Path(template).resolve())
    registry = PluginRegistry(names=[kind], configs={kind: settings})
    try:
        return registry.loadbalancer(kind)
    except PluginError as err:
        raise CLIError(f"Error loading load balancer {kind!r}: {err}") from None


def render_options(services: tuple[str, ...], listen: str | None) -> RenderOptions:
    """Render settings from ``-service`` and ``-listen ADDR:PORT``."""
    if listen is None:
        return RenderOptions(services=list(services))
    host, _, port = listen.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CLIError(f'Error: -listen: expected "ADDR:PORT" or "PORT", got {listen!r}')
    return RenderOptions(
        services=list(services), listen_address=host or "0.0.0.0", listen_port=int(port)
    )


def _checked(build: Any) -> Any:
    try:
        return build()
    except CaravanError as err:
        raise CLIError(f"Error: {err}") from None


def _run(coro: Awaitable[T]) -> T:
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except (CaravanError, PluginError) as err:
        raise CLIError(str(err) if str(err).startswith("Error") else f"Error: {err}") from None
