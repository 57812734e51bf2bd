"""``caravan node ...``: list nodes, show one, drain it, change its scheduling eligibility."""

from __future__ import annotations

import time
from typing import Any

import click

from caravan_plugins.durations import parse_duration_ns

from .agent_client import AgentClient, api_options
from .formatting import bytes_human, format_unix_nano, heading, kv, short_id
from .lookup import alloc_table, resolve_node
from .output import CLIError, columns, emit_formatted, output_options

DEFAULT_DRAIN_DEADLINE = "1h"
#: Nomad's drain deadlines: -1s forces an immediate drain, 0 waits without a deadline.
FORCE_DEADLINE_NS = -1_000_000_000


def node_list_table(nodes: list[dict[str, Any]], verbose: bool = False) -> str:
    """``ID  DC  Name  Class  Drain  Eligibility  Status`` (-verbose adds Address, Version)."""
    head = ["ID", "DC", "Name", "Class"]
    if verbose:
        head += ["Address", "Version"]
    head += ["Drain", "Eligibility", "Status"]
    rows: list[list[Any]] = [head]
    for n in nodes:
        row = [
            short_id(n["ID"], verbose),
            n.get("Datacenter", ""),
            n.get("Name", ""),
            n.get("NodeClass") or "<none>",
        ]
        if verbose:
            row += [n.get("Address", ""), n.get("Version", "")]
        row += [
            str(bool(n.get("Drain"))).lower(),
            n.get("SchedulingEligibility", ""),
            n.get("Status", ""),
        ]
        rows.append(row)
    return columns(rows)


def _healthy_drivers(node: dict[str, Any]) -> str:
    drivers = node.get("Drivers") or {}
    return ",".join(sorted(n for n, d in drivers.items() if d.get("Detected") and d.get("Healthy")))


def allocated_resources(node: dict[str, Any], allocs: list[dict[str, Any]]) -> str:
    """``CPU  Memory  Disk`` used by running allocations over the node's capacity."""
    res = node.get("NodeResources") or {}
    total_cpu = (res.get("Cpu") or {}).get("CpuShares", 0)
    total_mem = (res.get("Memory") or {}).get("MemoryMB", 0)
    total_disk = (res.get("Disk") or {}).get("DiskMB", 0)
    cpu = mem = disk = 0
    for alloc in allocs:
        if alloc.get("DesiredStatus") != "run" or alloc.get("ClientStatus") not in (
            "pending",
            "running",
        ):
            continue
        allocated = alloc.get("AllocatedResources") or {}
        for task in (allocated.get("Tasks") or {}).values():
            cpu += (task.get("Cpu") or {}).get("CpuShares", 0)
            mem += (task.get("Memory") or {}).get("MemoryMB", 0)
        disk += (allocated.get("Shared") or {}).get("DiskMB", 0)
    mib = 1024 * 1024
    return columns(
        [
            ["CPU", "Memory", "Disk"],
            [
                f"{cpu}/{total_cpu} MHz",
                f"{bytes_human(mem * mib)}/{bytes_human(total_mem * mib)}",
                f"{bytes_human(disk * mib)}/{bytes_human(total_disk * mib)}",
            ],
        ]
    )


def format_node_status(
    node: dict[str, Any], allocs: list[dict[str, Any]], verbose: bool = False
) -> str:
    """One node: KV block, events, drivers (-verbose), allocated resources, allocations."""
    out = kv(
        [
            ("ID", short_id(node["ID"], verbose)),
            ("Name", node.get("Name", "")),
            ("Class", node.get("NodeClass") or "<none>"),
            ("DC", node.get("Datacenter", "")),
            ("Drain", bool(node.get("Drain"))),
            ("Eligibility", node.get("SchedulingEligibility", "")),
            ("Status", node.get("Status", "")),
            ("Driver Status", _healthy_drivers(node) or "<none>"),
        ]
    )
    events = node.get("Events") or []
    if events:
        rows: list[list[Any]] = [["Time", "Subsystem", "Message"]]
        for e in reversed(events[-10:]):
            stamp = e.get("Timestamp")
            when = stamp if isinstance(stamp, str) else format_unix_nano(stamp)
            rows.append([when, e.get("Subsystem", ""), e.get("Message", "")])
        out += "\n" + heading("Node Events") + "\n" + columns(rows)
    if verbose:
        rows = [["Driver", "Detected", "Healthy", "Message"]]
        for name, d in sorted((node.get("Drivers") or {}).items()):
            rows.append(
                [
                    name,
                    str(bool(d.get("Detected"))).lower(),
                    str(bool(d.get("Healthy"))).lower(),
                    d.get("HealthDescription", ""),
                ]
            )
        out += "\n" + heading("Drivers") + "\n" + columns(rows)
    out += "\n" + heading("Allocated Resources") + "\n" + allocated_resources(node, allocs)
    out += "\n" + heading("Allocations") + "\n"
    ordered = sorted(allocs, key=lambda a: a.get("CreateIndex", 0), reverse=True)
    out += alloc_table(ordered, verbose) if allocs else "No allocations placed"
    if verbose:
        attrs = node.get("Attributes") or {}
        out += "\n" + heading("Attributes") + "\n" + kv(sorted(attrs.items()))
        meta = node.get("Meta") or {}
        if meta:
            out += "\n" + heading("Meta") + "\n" + kv(sorted(meta.items()))
    return out


def self_node_id(api: AgentClient) -> str:
    """The ID of the node the agent at ``-address`` runs, for ``-self``."""
    info = api.read("/v1/agent/self", "querying agent info")
    node_id = ((info.get("stats") or {}).get("client") or {}).get("node_id", "")
    if node_id:
        return node_id
    name = (info.get("config") or {}).get("NodeName", "")
    for node in api.read("/v1/nodes", "querying nodes"):
        if name and node.get("Name") == name:
            return node["ID"]
    raise CLIError("Error determining local node: this agent runs no client")


def show_node_status(api: AgentClient, node_id: str, *, verbose: bool) -> None:
    """Print one node's status."""
    node = resolve_node(api, node_id)
    allocs = api.read(f"/v1/node/{node['ID']}/allocations", "querying node allocations")
    click.echo(format_node_status(node, allocs, verbose))


@click.group("node")
def node_group() -> None:
    """Interact with client nodes."""


@node_group.command("status")
@click.option("-self", "--self", "self_", is_flag=True, help="The node of the agent queried.")
@click.option("-verbose", "--verbose", is_flag=True, help="Full IDs, drivers and attributes.")
@output_options
@api_options
@click.argument("node_id", required=False)
def node_status(
    api: AgentClient,
    self_: bool,
    verbose: bool,
    as_json: bool,
    template: str | None,
    node_id: str | None,
) -> None:
    """List client nodes, or show one node's drivers, resources and allocations."""
    if self_:
        node_id = self_node_id(api)
    if not node_id:
        nodes = api.read("/v1/nodes", "querying node status")
        if emit_formatted(nodes, as_json, template):
            return
        click.echo(node_list_table(nodes, verbose) if nodes else "No nodes registered")
        return
    if as_json or template is not None:
        emit_formatted(resolve_node(api, node_id), as_json, template)
        return
    show_node_status(api, node_id, verbose=verbose)


def _toggle(enable: bool, disable: bool) -> bool:
    if enable == disable:
        raise CLIError("Either the '-enable' or '-disable' flag must be set")
    return enable


@node_group.command("drain")
@click.option("-enable", "--enable", is_flag=True, help="Start draining the node.")
@click.option("-disable", "--disable", is_flag=True, help="Stop draining the node.")
@click.option(
    "-deadline", "--deadline", default=None, help="Force remaining allocs off after this (1h)."
)
@click.option("-force", "--force", is_flag=True, help="Stop every allocation at once.")
@click.option("-no-deadline", "--no-deadline", "no_deadline", is_flag=True, help="Never force.")
@click.option(
    "-ignore-system", "--ignore-system", "ignore_system", is_flag=True, help="Leave system jobs."
)
@click.option(
    "-keep-ineligible",
    "--keep-ineligible",
    "keep_ineligible",
    is_flag=True,
    help="With -disable: leave the node ineligible.",
)
@click.option("-self", "--self", "self_", is_flag=True, help="Drain the queried agent's node.")
@click.option("-detach", "--detach", is_flag=True, help="Return without waiting for the drain.")
@click.option("-yes", "--yes", is_flag=True, help="Do not ask for confirmation.")
@api_options
@click.argument("node_id", required=False)
def node_drain(
    api: AgentClient,
    enable: bool,
    disable: bool,
    deadline: str | None,
    force: bool,
    no_deadline: bool,
    ignore_system: bool,
    keep_ineligible: bool,
    self_: bool,
    detach: bool,
    yes: bool,
    node_id: str | None,
) -> None:
    """Move allocations off a node (-enable) or stop doing so (-disable)."""
    on = _toggle(enable, disable)
    if self_:
        node_id = self_node_id(api)
    if not node_id:
        raise CLIError("Node ID must be specified if -self isn't being used")
    node = resolve_node(api, node_id)
    spec: dict[str, Any] | None = None
    if on:
        if force:
            ns = FORCE_DEADLINE_NS
        elif no_deadline:
            ns = 0
        else:
            try:
                ns = parse_duration_ns(deadline or DEFAULT_DRAIN_DEADLINE)
            except ValueError as err:
                raise CLIError(f"Failed to parse deadline: {err}") from None
        spec = {"Deadline": ns, "IgnoreSystemJobs": ignore_system}
    body = {"DrainSpec": spec, "MarkEligible": not on and not keep_ineligible}
    api.write(f"/v1/node/{node['ID']}/drain", body, "updating drain specification")
    if not on:
        click.echo(f'Node "{node["ID"]}" drain strategy unset')
        return
    click.echo(f'Node "{node["ID"]}" drain strategy set')
    if not detach:
        _watch_drain(api, node["ID"])


def _watch_drain(api: AgentClient, node_id: str, timeout: float = 3600.0) -> None:
    stop_at = time.monotonic() + timeout
    index = 0
    while time.monotonic() < stop_at:
        node = api.blocking_read(f"/v1/node/{node_id}", "monitoring drain", index, 5.0)
        index = api.last_index
        if not node.get("DrainStrategy") and not node.get("Drain"):
            click.echo(f'==> Drain complete for node "{node_id}"')
            return


@node_group.command("eligibility")
@click.option("-enable", "--enable", is_flag=True, help="Let the scheduler place work here.")
@click.option("-disable", "--disable", is_flag=True, help="Keep new work off the node.")
@click.option("-self", "--self", "self_", is_flag=True, help="The queried agent's node.")
@api_options
@click.argument("node_id", required=False)
def node_eligibility(
    api: AgentClient, enable: bool, disable: bool, self_: bool, node_id: str | None
) -> None:
    """Mark a node eligible or ineligible for new allocations (running ones stay)."""
    on = _toggle(enable, disable)
    if self_:
        node_id = self_node_id(api)
    if not node_id:
        raise CLIError("Node ID must be specified if -self isn't being used")
    node = resolve_node(api, node_id)
    value = "eligible" if on else "ineligible"
    api.write(
        f"/v1/node/{node['ID']}/eligibility",
        {"NodeID": node["ID"], "Eligibility": value},
        "updating scheduling eligibility",
    )
    click.echo(f'Node "{node["ID"]}" scheduling eligibility set: {value} for scheduling')
