"""``caravan deployment ...``: list, status, promote, fail, pause and resume deployments."""

from __future__ import annotations

from typing import Any

import click

from .agent_client import AgentClient, api_options
from .formatting import format_rfc3339, heading, kv, short_id
from .lookup import resolve_deployment
from .output import columns, emit_formatted, output_options


def deployed_table(dep: dict[str, Any]) -> str:
    """Nomad's ``Deployed`` table; the Auto Revert/Promoted, Canaries and Progress Deadline
    columns appear only when some group uses them."""
    groups = dep.get("TaskGroups") or {}
    auto_revert = any(s.get("AutoRevert") for s in groups.values())
    canaries = any(s.get("DesiredCanaries") for s in groups.values())
    deadline = any(s.get("ProgressDeadline") for s in groups.values())
    head = ["Task Group"]
    if auto_revert:
        head.append("Auto Revert")
    if canaries:
        head.append("Promoted")
    head.append("Desired")
    if canaries:
        head.append("Canaries")
    head += ["Placed", "Healthy", "Unhealthy"]
    if deadline:
        head.append("Progress Deadline")
    rows: list[list[Any]] = [head]
    for name in sorted(groups):
        s = groups[name]
        row: list[Any] = [name]
        if auto_revert:
            row.append(bool(s.get("AutoRevert")))
        if canaries:
            row.append(bool(s.get("Promoted")))
        row.append(s.get("DesiredTotal", 0))
        if canaries:
            row.append(s.get("DesiredCanaries", 0))
        row += [s.get("PlacedAllocs", 0), s.get("HealthyAllocs", 0), s.get("UnhealthyAllocs", 0)]
        if deadline:
            row.append(
                format_rfc3339(s.get("RequireProgressBy")) if s.get("ProgressDeadline") else "N/A"
            )
        rows.append([str(c).lower() if isinstance(c, bool) else c for c in row])
    return columns(rows)


def format_deployment(dep: dict[str, Any], verbose: bool = False) -> str:
    """``deployment status``: the KV block then the ``Deployed`` table."""
    out = kv(
        [
            ("ID", short_id(dep["ID"], verbose)),
            ("Job ID", dep.get("JobID", "")),
            ("Job Version", dep.get("JobVersion", 0)),
            ("Status", dep.get("Status", "")),
            ("Description", dep.get("StatusDescription", "")),
        ]
    )
    if dep.get("TaskGroups"):
        out += "\n" + heading("Deployed") + "\n" + deployed_table(dep)
    return out


def deployment_list_table(deps: list[dict[str, Any]], verbose: bool = False) -> str:
    """``deployment list`` and ``job deployments``: ``ID  Job ID  Job Version  Status
    Description``."""
    rows: list[list[Any]] = [["ID", "Job ID", "Job Version", "Status", "Description"]]
    rows += [
        [
            short_id(d["ID"], verbose),
            d.get("JobID", ""),
            d.get("JobVersion", 0),
            d.get("Status", ""),
            d.get("StatusDescription", ""),
        ]
        for d in deps
    ]
    return columns(rows)


@click.group("deployment")
def deployment_group() -> None:
    """Interact with deployments."""


_verbose = click.option("-verbose", "--verbose", is_flag=True, help="Show full IDs.")


@deployment_group.command("list")
@_verbose
@output_options
@api_options
def deployment_list(api: AgentClient, verbose: bool, as_json: bool, template: str | None) -> None:
    """List deployments, newest first."""
    deps = api.read("/v1/deployments", "retrieving deployments")
    if emit_formatted(deps, as_json, template):
        return
    if not deps:
        click.echo("No deployments found")
        return
    deps.sort(key=lambda d: d.get("CreateIndex", 0), reverse=True)
    click.echo(deployment_list_table(deps, verbose))


@deployment_group.command("status")
@_verbose
@output_options
@api_options
@click.argument("deployment_id")
def deployment_status(
    api: AgentClient, verbose: bool, as_json: bool, template: str | None, deployment_id: str
) -> None:
    """Show a deployment's status and its task groups' progress."""
    dep = resolve_deployment(api, deployment_id)
    if emit_formatted(dep, as_json, template):
        return
    click.echo(format_deployment(dep, verbose))


def _write(api: AgentClient, action: str, dep_id: str, body: dict[str, Any], what: str) -> None:
    dep = resolve_deployment(api, dep_id)
    resp = api.write(
        f"/v1/deployment/{action}/{dep['ID']}", {"DeploymentID": dep["ID"], **body}, what
    )
    eval_id = resp.get("EvalID", "")
    if eval_id:
        click.echo(
            f'==> Evaluation "{short_id(eval_id)}" created for deployment "{short_id(dep["ID"])}"'
        )


@deployment_group.command("promote")
@click.option(
    "-group", "--group", "groups", multiple=True, help="Promote only this group (repeatable)."
)
@api_options
@click.argument("deployment_id")
def deployment_promote(api: AgentClient, groups: tuple[str, ...], deployment_id: str) -> None:
    """Promote a deployment's canaries (all groups unless -group)."""
    body: dict[str, Any] = {"Groups": list(groups)} if groups else {"All": True}
    _write(api, "promote", deployment_id, body, "promoting deployment")
    click.echo(f'Deployment "{deployment_id}" promoted')


@deployment_group.command("fail")
@api_options
@click.argument("deployment_id")
def deployment_fail(api: AgentClient, deployment_id: str) -> None:
    """Mark a deployment failed (rolling back if auto_revert is set)."""
    _write(api, "fail", deployment_id, {}, "failing deployment")
    click.echo(f'Deployment "{deployment_id}" failed')


@deployment_group.command("pause")
@api_options
@click.argument("deployment_id")
def deployment_pause(api: AgentClient, deployment_id: str) -> None:
    """Pause a deployment: no new allocations are placed until it is resumed."""
    _write(api, "pause", deployment_id, {"Pause": True}, "pausing deployment")
    click.echo(f'Deployment "{deployment_id}" paused')


@deployment_group.command("resume")
@api_options
@click.argument("deployment_id")
def deployment_resume(api: AgentClient, deployment_id: str) -> None:
    """Resume a paused deployment."""
    _write(api, "pause", deployment_id, {"Pause": False}, "resuming deployment")
    click.echo(f'Deployment "{deployment_id}" resumed')
