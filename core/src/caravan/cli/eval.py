"""``caravan eval status|list``: what the scheduler decided, and why placements failed."""

from __future__ import annotations

from typing import Any

import click

from .agent_client import AgentClient, api_options
from .formatting import heading, kv, pretty_age, short_id
from .lookup import resolve_eval
from .monitor import placement_failures
from .output import columns, emit_formatted, output_options


def format_eval(ev: dict[str, Any], verbose: bool = False) -> str:
    """``eval status``: the KV block, then ``Failed Placements`` when there were any."""
    failed = ev.get("FailedTGAllocs") or {}
    pairs: list[tuple[str, Any]] = [
        ("ID", short_id(ev["ID"], verbose)),
        ("Create Time", pretty_age(ev.get("CreateTime"))),
        ("Modify Time", pretty_age(ev.get("ModifyTime"))),
        ("Status", ev.get("Status", "")),
        ("Status Description", ev.get("StatusDescription") or ev.get("Status", "")),
        ("Type", ev.get("Type", "")),
        ("TriggeredBy", ev.get("TriggeredBy", "")),
    ]
    if ev.get("JobID"):
        pairs.append(("Job ID", ev["JobID"]))
    if ev.get("NodeID"):
        pairs.append(("Node ID", short_id(ev["NodeID"], verbose)))
    if ev.get("DeploymentID"):
        pairs.append(("Deployment ID", short_id(ev["DeploymentID"], verbose)))
    pairs += [
        ("Namespace", ev.get("Namespace", "default")),
        ("Priority", ev.get("Priority", 0)),
        ("Placement Failures", bool(failed)),
    ]
    out = kv(pairs)
    if failed:
        out += "\n" + heading("Failed Placements") + "\n"
        out += "\n".join(line[4:] for line in placement_failures(failed))
        if ev.get("BlockedEval"):
            out += (
                f'\n\nEvaluation "{short_id(ev["BlockedEval"], verbose)}" waiting for additional '
                "capacity to place remainder"
            )
    return out


def eval_list_table(evals: list[dict[str, Any]], verbose: bool = False) -> str:
    """``ID  Priority  Triggered By  Job ID  Namespace  Node ID  Status  Placement Failures``."""
    rows: list[list[Any]] = [
        [
            "ID",
            "Priority",
            "Triggered By",
            "Job ID",
            "Namespace",
            "Node ID",
            "Status",
            "Placement Failures",
        ]
    ]
    for e in evals:
        rows.append(
            [
                short_id(e["ID"], verbose),
                e.get("Priority", 0),
                e.get("TriggeredBy", ""),
                e.get("JobID", ""),
                e.get("Namespace", "default"),
                short_id(e.get("NodeID"), verbose) or "<none>",
                e.get("Status", ""),
                str(bool(e.get("FailedTGAllocs"))).lower(),
            ]
        )
    return columns(rows)


def show_eval_status(api: AgentClient, eval_id: str, *, verbose: bool) -> None:
    """Print one evaluation's status."""
    click.echo(format_eval(resolve_eval(api, eval_id), verbose))


@click.group("eval")
def eval_group() -> None:
    """Interact with evaluations."""


@eval_group.command("status")
@click.option("-verbose", "--verbose", is_flag=True, help="Show full IDs.")
@output_options
@api_options
@click.argument("eval_id")
def eval_status(
    api: AgentClient, verbose: bool, as_json: bool, template: str | None, eval_id: str
) -> None:
    """Show an evaluation's status and its placement failures."""
    if as_json or template is not None:
        emit_formatted(resolve_eval(api, eval_id), as_json, template)
        return
    show_eval_status(api, eval_id, verbose=verbose)


@eval_group.command("list")
@click.option("-verbose", "--verbose", is_flag=True, help="Show full IDs.")
@click.option("-job", "--job", "job", default=None, help="Only this job's evaluations.")
@click.option(
    "-status", "--status", "status", default=None, help="Only evaluations in this status."
)
@output_options
@api_options
def eval_list(
    api: AgentClient,
    verbose: bool,
    job: str | None,
    status: str | None,
    as_json: bool,
    template: str | None,
) -> None:
    """List evaluations, newest first."""
    evals = api.read("/v1/evaluations", "retrieving evaluations", {"job": job, "status": status})
    if emit_formatted(evals, as_json, template):
        return
    if not evals:
        click.echo("No evals found")
        return
    evals.sort(key=lambda e: e.get("CreateIndex", 0), reverse=True)
    click.echo(eval_list_table(evals, verbose))
