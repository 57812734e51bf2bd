"""``caravan version``."""

import click

from caravan.version import caravan_version


@click.command("version")
def version_command() -> None:
    """Print the caravan version."""
    click.echo(f"Caravan v{caravan_version()}")
