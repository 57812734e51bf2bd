"""The ``caravan`` entry point: the root command group and the process's exit-code contract.

Exit codes are Nomad's: 0 success, 1 a user error or a failed operation (printed as one line,
never a traceback). An unexpected exception is a bug: it is reported in one line too, with the
traceback shown only when ``CARAVAN_DEBUG`` is set.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from .job import job_group
from .plugin import plugin_group
from .version import version_command

CONTEXT_SETTINGS = {"help_option_names": ["-h", "-help", "--help"]}


@click.group(context_settings=CONTEXT_SETTINGS)
def cli() -> None:
    """caravan: run and schedule workloads; Nomad's job files, CLI and HTTP API."""


cli.add_command(job_group)
cli.add_command(plugin_group)
cli.add_command(version_command)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (also what ``sys.exit`` receives)."""
    try:
        cli.main(args=argv, prog_name="caravan", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
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
