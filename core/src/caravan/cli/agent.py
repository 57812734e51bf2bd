"""``caravan agent``: run a server and/or client agent until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import signal
import sys
from typing import Any

import click

from caravan.agent import Agent, AgentConfig, load_config
from caravan.errors import CaravanError

from .output import CLIError

LOG_FORMAT = "    %(asctime)s [%(levelname)s] %(name)s: %(message)s"


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def flag_values(**flags: Any) -> dict[str, Any]:
    """Map ``caravan agent`` flags onto the config's shape (``None`` means not given).

    >>> flag_values(dc="dc2", server=True)["server"]["enabled"]
    True
    """
    retry_join = _split(flags.get("retry_join") or ())
    servers = _split(flags.get("servers") or ())
    return {
        "datacenter": flags.get("dc"),
        "region": flags.get("region"),
        "name": flags.get("node"),
        "data_dir": flags.get("data_dir"),
        "bind_addr": flags.get("bind"),
        "log_level": flags.get("log_level"),
        "server": {
            "enabled": True if flags.get("server") else None,
            "bootstrap_expect": flags.get("bootstrap_expect"),
            "retry_join": retry_join or None,
        },
        "client": {
            "enabled": True if flags.get("client") else None,
            "servers": servers or None,
            "network_interface": flags.get("network_interface"),
        },
        "load_plugins": _split((flags["plugins"],)) if flags.get("plugins") is not None else None,
    }


@click.command("agent")
@click.option(
    "-config", "--config", "configs", multiple=True, help="A config file or directory (repeatable)."
)
@click.option("-dev", "--dev", is_flag=True, help="Server and client in one process, in memory.")
@click.option("-server", "--server", is_flag=True, help="Run a server.")
@click.option("-client", "--client", is_flag=True, help="Run a client.")
@click.option("-data-dir", "--data-dir", "data_dir", default=None, help="Where state is kept.")
@click.option(
    "-bootstrap-expect",
    "--bootstrap-expect",
    "bootstrap_expect",
    type=int,
    default=None,
    help="Servers to wait for before electing a leader.",
)
@click.option(
    "-retry-join",
    "--retry-join",
    "retry_join",
    multiple=True,
    help="A server address to join (repeatable).",
)
@click.option(
    "-servers", "--servers", multiple=True, help="Servers a client registers with (comma list)."
)
@click.option("-node", "--node", default=None, help="The node's name (default: host name).")
@click.option("-dc", "--dc", default=None, help="The datacenter (default dc1).")
@click.option("-region", "--region", default=None, help="The region (default global).")
@click.option("-log-level", "--log-level", "log_level", default=None, help="DEBUG, INFO, WARN...")
@click.option("-bind", "--bind", default=None, help="The address every listener binds to.")
@click.option("-plugins", "--plugins", default=None, help="Load only these plugins (comma list).")
@click.option(
    "-network-interface",
    "--network-interface",
    "network_interface",
    default=None,
    help="The interface whose address tasks advertise.",
)
def agent_command(configs: tuple[str, ...], dev: bool, **flags: Any) -> None:
    """Run a caravan agent (server, client, or both with -dev) until interrupted."""
    try:
        config = load_config(configs, dev=dev, flags=flag_values(**flags))
    except CaravanError as err:
        raise CLIError(f"Error loading agent configuration: {err}") from None
    held = _setup_logging(config)
    try:
        asyncio.run(_run(config, held))
    except (OSError, CaravanError) as err:
        raise CLIError(f"Error starting agent: {err}") from None


def _setup_logging(config: AgentConfig) -> logging.handlers.MemoryHandler:
    """Log to stdout in Nomad's shape; lines are held back until :func:`_release_logs`, so
    the banner comes first as in Nomad."""
    level = config.log_level.upper()
    level = "WARNING" if level == "WARN" else level
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S%z"))
    held = logging.handlers.MemoryHandler(
        capacity=100_000, flushLevel=logging.CRITICAL + 1, target=stream
    )
    logging.basicConfig(level=getattr(logging, level, logging.INFO), handlers=[held], force=True)
    # The agent's own DEBUG lines are useful in -dev; those of HTTP and docker libraries not.
    for noisy in ("urllib3", "docker", "asyncio", "aiohttp.access", "stevedore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.root.level))
    return held


def _release_logs(held: logging.handlers.MemoryHandler) -> None:
    """Print the held log lines and log straight to stdout from now on."""
    root = logging.getLogger()
    held.flush()
    root.removeHandler(held)
    if held.target is not None:
        root.addHandler(held.target)


async def _run(config: AgentConfig, held: logging.handlers.MemoryHandler) -> None:
    agent = Agent(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await agent.start()
    finally:
        click.echo(agent.banner() if agent.started else "==> Caravan agent failed to start")
        sys.stdout.flush()
        _release_logs(held)
    await agent.run_until(stop)
    click.echo("==> Caravan agent shut down")
