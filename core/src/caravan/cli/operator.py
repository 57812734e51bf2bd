"""``caravan operator snapshot save|restore``: copy the servers' state out and back in."""

from __future__ import annotations

import shutil

import click

from .agent_client import AgentClient, api_options
from .output import CLIError


@click.group("operator")
def operator_group() -> None:
    """Cluster operator commands."""


@operator_group.group("snapshot")
def snapshot_group() -> None:
    """Save and restore snapshots of the servers' state."""


@snapshot_group.command("save")
@click.option("-stale", "--stale", is_flag=True, help="Let a follower answer.")
@api_options
@click.argument("file")
def snapshot_save(api: AgentClient, stale: bool, file: str) -> None:
    """Write a snapshot of the cluster state to FILE (``GET /v1/operator/snapshot``)."""
    params = {"stale": True} if stale else None
    with api.raw("GET", "/v1/operator/snapshot", "getting snapshot", params, timeout=600) as resp:
        try:
            with open(file, "wb") as out:
                shutil.copyfileobj(resp, out)
        except OSError as err:
            raise CLIError(f"Failed to write snapshot file {file}: {err.strerror}") from None
    click.echo(f"State file written to {file}")


@snapshot_group.command("restore")
@api_options
@click.argument("file")
def snapshot_restore(api: AgentClient, file: str) -> None:
    """Replace the cluster state with the snapshot in FILE (``PUT /v1/operator/snapshot``)."""
    try:
        with open(file, "rb") as fh:
            data = fh.read()
    except OSError as err:
        raise CLIError(f"Failed to open snapshot file {file}: {err.strerror}") from None
    with api.raw("PUT", "/v1/operator/snapshot", "restoring snapshot", body=data, timeout=600):
        pass
    click.echo("Snapshot Restored")
