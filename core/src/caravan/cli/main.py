"""The ``caravan`` entry point: the root command group and the process's exit-code contract.

Exit codes are Nomad's: 0 success, 1 a user error or a failed operation (printed as one line,
never a traceback); some commands document others (``job plan``: 1 when allocations would
change, 255 on error; ``job run``: 2 when placements failed). An unexpected exception is a
bug: it is reported in one line too, with the traceback shown only when ``CARAVAN_DEBUG`` is
set. Plugins add commands through the ``caravan_register_commands(cli)`` hook.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import traceback

import click

from caravan_plugins.loader import PluginRegistry
from caravan_plugins.plugins import HOOKS_GROUP

from . import job_history, job_plan, job_status
from .acl import acl_group
from .agent import agent_command
from .alloc import alloc_group
from .deployment import deployment_group
from .eval import eval_group
from .job import job_group
from .lb import lb_group
from .node import node_group
from .operator import operator_group
from .output import CLIError
from .plugin import plugin_group
from .server import server_group
from .tls import tls_group
from .version import version_command

CONTEXT_SETTINGS = {"help_option_names": ["-h", "-help", "--help"]}

# Importing these modules adds their verbs to ``job``; named here so the intent is explicit.
JOB_VERB_MODULES = (job_history, job_plan, job_status)


@click.group(context_settings=CONTEXT_SETTINGS)
def cli() -> None:
    """caravan: run and schedule workloads; Nomad's job files, CLI and HTTP API."""


for command in (
    acl_group,
    agent_command,
    alloc_group,
    deployment_group,
    eval_group,
    job_group,
    lb_group,
    node_group,
    operator_group,
    plugin_group,
    server_group,
    tls_group,
    job_status.status_command,
    version_command,
):
    cli.add_command(command)

_plugins_registered = False


def register_plugin_commands() -> None:
    """Let hook plugins add their commands, once per process; a plugin that fails is
    reported on stderr and the built-in commands still work."""
    global _plugins_registered
    if _plugins_registered:
        return
    _plugins_registered = True
    # Only hook plugins can add commands; loading drivers too would slow every command down.
    hook_plugins = {ep.name for ep in importlib.metadata.entry_points(group=HOOKS_GROUP)}
    if not hook_plugins:
        return
    try:
        PluginRegistry(names=hook_plugins).hooks.register_commands(cli)
    except Exception as err:
        click.echo(f"Warning: plugin commands not loaded: {type(err).__name__}: {err}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (also what ``sys.exit`` receives)."""
    try:
        register_plugin_commands()
        cli.main(args=argv, prog_name="caravan", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except CLIError as err:
        err.show()
        return err.exit_code
    except click.ClickException as err:
        err.show()
        return 1
    except SystemExit as err:
        return int(err.code or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as err:
        if os.environ.get("CARAVAN_DEBUG"):
            traceback.print_exc()
        click.echo(
            f"Error: unexpected internal error: {type(err).__name__}: {err} "
            "(set CARAVAN_DEBUG=1 to see where)",
            err=True,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
