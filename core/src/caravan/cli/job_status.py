"""``caravan job status`` and ``caravan status``: jobs, and one job in Nomad's sections.

One job prints its ``Key = Value`` block, then ``Summary`` (per task group counts),
``Placement Failure`` (when an evaluation is blocked), ``Latest Deployment`` with its
``Deployed`` table, and ``Allocations`` (newest first).
"""

from __future__ import annotations

from typing import Any

import click

from .agent_client import AgentClient, api_options
from .alloc import show_alloc_status
from .deployment import deployed_table, format_deployment
from .eval import show_eval_status
from .formatting import format_unix_nano, heading, kv, short_id
from .job import job_group
from .lookup import alloc_table, job_status, resolve_deployment, resolve_job
from .monitor import format_metrics
from .node import show_node_status
from .output import CLIError, columns, emit_formatted, output_options

SUMMARY_COLUMNS = ("Queued", "Starting", "Running", "Failed", "Complete", "Lost")


def job_list_table(jobs: list[dict[str, Any]]) -> str:
    """``ID  Type  Priority  Status  Submit Date``."""
    rows: list[list[Any]] = [["ID", "Type", "Priority", "Status", "Submit Date"]]
    rows += [
        [
            j["ID"],
            j.get("Type", ""),
            j.get("Priority", ""),
            job_status(j),
            format_unix_nano(j.get("SubmitTime")),
        ]
        for j in jobs
    ]
    return columns(rows)


def job_header(job: dict[str, Any]) -> str:
    """The job's ``Key = Value`` block."""
    status = job.get("Status", "")
    if job.get("Stop"):
        status = f"{status} (stopped)"
    return kv(
        [
            ("ID", job["ID"]),
            ("Name", job.get("Name", "")),
            ("Submit Date", format_unix_nano(job.get("SubmitTime"))),
            ("Type", job.get("Type", "")),
            ("Priority", job.get("Priority", "")),
            ("Datacenters", ",".join(job.get("Datacenters") or [])),
            ("Namespace", job.get("Namespace", "default")),
            ("Status", status),
            ("Periodic", bool(job.get("Periodic"))),
            ("Parameterized", bool(job.get("ParameterizedJob"))),
        ]
    )


def summary_table(summary: dict[str, Any]) -> str:
    """``Task Group  Queued  Starting  Running  Failed  Complete  Lost``."""
    rows: list[list[Any]] = [["Task Group", *SUMMARY_COLUMNS]]
    groups = summary.get("Summary") or {}
    for name in sorted(groups):
        rows.append([name, *(groups[name].get(c, 0) for c in SUMMARY_COLUMNS)])
    return columns(rows)


def placement_failure(evals: list[dict[str, Any]]) -> str:
    """The ``Placement Failure`` lines of the evaluation a blocked evaluation came from."""
    blocked = {e["ID"] for e in evals if e.get("Status") == "blocked"}
    for ev in sorted(evals, key=lambda e: e.get("CreateIndex", 0), reverse=True):
        if ev.get("BlockedEval") in blocked and ev.get("FailedTGAllocs"):
            lines = []
            for group in sorted(ev["FailedTGAllocs"]):
                lines.append(f'Task Group "{group}":')
                lines += format_metrics(ev["FailedTGAllocs"][group] or {}, "  ")
                lines.append("")
            return "\n".join(lines).rstrip()
    return ""


def format_job_status(
    job: dict[str, Any],
    summary: dict[str, Any] | None,
    deployment: dict[str, Any] | None,
    allocs: list[dict[str, Any]],
    evals: list[dict[str, Any]],
    *,
    verbose: bool = False,
    short: bool = False,
) -> str:
    """Everything ``caravan job status ID`` prints, from the API's JSON."""
    out = job_header(job)
    if summary and summary.get("Summary"):
        out += "\n" + heading("Summary") + "\n" + summary_table(summary)
    failure = placement_failure(evals)
    if failure:
        out += "\n" + heading("Placement Failure") + "\n" + failure
    if deployment and job.get("Type") == "service":
        out += "\n" + heading("Latest Deployment") + "\n"
        out += kv(
            [
                ("ID", short_id(deployment["ID"], verbose)),
                ("Status", deployment.get("Status", "")),
                ("Description", deployment.get("StatusDescription", "")),
            ]
        )
        if deployment.get("TaskGroups"):
            out += "\n" + heading("Deployed") + "\n" + deployed_table(deployment)
    if not short:
        out += "\n" + heading("Allocations") + "\n"
        if allocs:
            ordered = sorted(allocs, key=lambda a: a.get("CreateIndex", 0), reverse=True)
            out += alloc_table(ordered, verbose)
        else:
            out += "No allocations placed"
    return out


def show_job_status(
    api: AgentClient,
    job_id: str | None,
    *,
    verbose: bool,
    short: bool,
    all_allocs: bool,
    as_json: bool,
    template: str | None,
) -> None:
    """List jobs (no ``job_id``) or print one job's status."""
    if not job_id:
        jobs = api.read("/v1/jobs", "querying jobs")
        if emit_formatted(jobs, as_json, template):
            return
        click.echo(job_list_table(jobs) if jobs else "No running jobs")
        return
    resolved = resolve_job(api, job_id)
    base = f"/v1/job/{resolved}"
    job = api.read(base, "querying job")
    if emit_formatted(job, as_json, template):
        return
    summary = api.read(f"{base}/summary", "querying job summary")
    deployment = api.read(f"{base}/deployment", "querying latest deployment") or None
    allocs = api.read(
        f"{base}/allocations", "querying job allocations", {"all": all_allocs or None}
    )
    evals = api.read(f"{base}/evaluations", "querying job evaluations")
    click.echo(
        format_job_status(job, summary, deployment, allocs, evals, verbose=verbose, short=short)
    )


def _status_options(func: Any) -> Any:
    func = click.option("-verbose", "--verbose", is_flag=True, help="Show full IDs.")(func)
    func = click.option("-short", "--short", is_flag=True, help="Leave out the allocations.")(func)
    return click.option(
        "-all-allocs",
        "--all-allocs",
        "all_allocs",
        is_flag=True,
        help="Include allocations of earlier jobs with the same ID.",
    )(func)


@job_group.command("status")
@_status_options
@output_options
@api_options
@click.argument("job_id", required=False)
def job_status_command(api: AgentClient, job_id: str | None, **opts: Any) -> None:
    """List jobs, or show one job's summary, deployment and allocations."""
    show_job_status(api, job_id, **opts)


@click.command("status")
@_status_options
@output_options
@api_options
@click.argument("identifier", required=False)
def status_command(api: AgentClient, identifier: str | None, **opts: Any) -> None:
    """Show the status of a job (or, failing that, an allocation, node, evaluation or
    deployment) whose ID starts with IDENTIFIER; with no argument, list jobs."""
    if not identifier:
        show_job_status(api, None, **opts)
        return
    jobs = api.read("/v1/jobs", "querying jobs", {"prefix": identifier})
    if jobs:
        show_job_status(api, identifier, **opts)
        return
    for path, kind in (
        ("/v1/allocations", "alloc"),
        ("/v1/nodes", "node"),
        ("/v1/evaluations", "eval"),
        ("/v1/deployments", "deployment"),
    ):
        if not api.read(path, f"querying {kind}s", {"prefix": identifier}):
            continue
        if kind == "alloc":
            show_alloc_status(api, identifier, verbose=opts["verbose"], short=opts["short"])
        elif kind == "node":
            show_node_status(api, identifier, verbose=opts["verbose"])
        elif kind == "eval":
            show_eval_status(api, identifier, verbose=opts["verbose"])
        else:
            click.echo(format_deployment(resolve_deployment(api, identifier), opts["verbose"]))
        return
    raise CLIError(f'No matches returned for query "{identifier}"')
