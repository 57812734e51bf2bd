"""``caravan plugin ...``: what plugins are installed, loaded, and why one is not."""

from __future__ import annotations

import click

from caravan_plugins.loader import list_plugins

from .output import columns, print_json


@click.group("plugin")
def plugin_group() -> None:
    """Inspect installed plugins."""


@plugin_group.command("list")
@click.option("-json", "--json", "as_json", is_flag=True, help="Print the list as JSON.")
def plugin_list(as_json: bool) -> None:
    """List the installed drivers, discovery backends, load balancers and hook plugins."""
    infos = list_plugins()
    if as_json:
        print_json([info.model_dump(mode="json") for info in infos])
        return
    rows: list[list[str]] = [["Name", "Kind", "Distribution", "Version", "Status"]]
    for info in infos:
        status = "loaded" if info.loaded else f"not loaded: {info.reason}"
        rows.append([info.name, info.kind, info.distribution, info.version, status])
    click.echo(columns(rows))
