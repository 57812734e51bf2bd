"""``caravan server members``: the region's servers, as gossip members."""

from __future__ import annotations

from typing import Any

import click

from .agent_client import AgentClient, api_options
from .output import columns, emit_formatted, output_options


def members_table(members: list[dict[str, Any]], leader: str, verbose: bool = False) -> str:
    """``Name  Address  Port  Status  Leader  Raft Version  Build  Datacenter  Region``;
    ``leader`` is the leader's RPC address (``ip:port``)."""
    head = [
        "Name",
        "Address",
        "Port",
        "Status",
        "Leader",
        "Raft Version",
        "Build",
        "Datacenter",
        "Region",
    ]
    if verbose:
        head.append("Tags")
    rows: list[list[Any]] = [head]
    for m in sorted(members, key=lambda m: m.get("Name", "")):
        tags = m.get("Tags") or {}
        rpc = f"{tags.get('rpc_addr') or m.get('Addr', '')}:{tags.get('port', '')}"
        is_leader = tags.get("leader") == "true" if "leader" in tags else rpc == leader
        row = [
            m.get("Name", ""),
            m.get("Addr", ""),
            m.get("Port", ""),
            m.get("Status", ""),
            str(is_leader).lower(),
            tags.get("raft_vsn", "3"),
            tags.get("build", ""),
            tags.get("dc", ""),
            tags.get("region", ""),
        ]
        if verbose:
            row.append(",".join(f"{k}={v}" for k, v in sorted(tags.items())))
        rows.append(row)
    return columns(rows)


@click.group("server")
def server_group() -> None:
    """Interact with servers."""


@server_group.command("members")
@click.option("-verbose", "--verbose", is_flag=True, help="Show every member tag.")
@output_options
@api_options
def server_members(api: AgentClient, verbose: bool, as_json: bool, template: str | None) -> None:
    """List the servers of the region and which one leads."""
    resp = api.read("/v1/agent/members", "querying servers")
    members = resp.get("Members") or []
    if emit_formatted(members, as_json, template):
        return
    leader = api.read("/v1/status/leader", "querying leader")
    build = ""
    if not any((m.get("Tags") or {}).get("build") for m in members):
        info = api.read("/v1/agent/self", "querying agent info")
        build = ((info.get("config") or {}).get("Version") or {}).get("Version", "")
        for m in members:
            m.setdefault("Tags", {})["build"] = build
    click.echo(members_table(members, leader or "", verbose))
