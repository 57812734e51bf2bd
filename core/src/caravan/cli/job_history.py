"""``caravan job history|revert|inspect|allocs|deployments|dispatch``: a job's past and parts."""

from __future__ import annotations

import base64
import sys
from typing import Any

import click

from .agent_client import AgentClient, api_options
from .deployment import deployment_list_table
from .formatting import format_unix_nano, kv
from .job import job_group
from .lookup import alloc_table, resolve_job
from .monitor import Monitor
from .output import CLIError, emit_formatted, output_options, print_json

_verbose = click.option("-verbose", "--verbose", is_flag=True, help="Show full IDs.")


def format_history(versions: list[dict[str, Any]], diffs: list[dict[str, Any]] | None) -> str:
    """``Version / Stable / Submit Date`` blocks, newest first, with ``Diff`` under each
    version when ``diffs`` (``diffs[i]`` leads from ``versions[i+1]`` to ``versions[i]``)."""
    # The job model is imported only by the commands that render diffs: it is slow to load.
    from caravan.structs.diff_format import format_diff

    blocks = []
    for i, job in enumerate(versions):
        pairs: list[tuple[str, Any]] = [
            ("Version", job.get("Version", 0)),
            ("Stable", bool(job.get("Stable"))),
            ("Submit Date", format_unix_nano(job.get("SubmitTime"))),
        ]
        block = kv(pairs)
        if diffs is not None and i < len(diffs) and diffs[i]:
            block += "\n" + kv([("Diff", "")]) + "\n" + format_diff(diffs[i]).rstrip()
        blocks.append(block)
    return "\n\n".join(blocks)


@job_group.command("history")
@click.option("-p", "show_diffs", is_flag=True, help="Show the diff between versions.")
@click.option(
    "-version", "--version", "version", type=int, default=None, help="Show only this version."
)
@output_options
@api_options
@click.argument("job_id")
def job_history(
    api: AgentClient,
    show_diffs: bool,
    version: int | None,
    as_json: bool,
    template: str | None,
    job_id: str,
) -> None:
    """List a job's versions (newest first); -p shows what changed between them."""
    resolved = resolve_job(api, job_id)
    resp = api.read(
        f"/v1/job/{resolved}/versions", "retrieving job versions", {"diffs": show_diffs or None}
    )
    versions, diffs = resp.get("Versions") or [], resp.get("Diffs") if show_diffs else None
    if version is not None:
        keep = [i for i, v in enumerate(versions) if v.get("Version") == version]
        if not keep:
            raise CLIError(f'Job "{resolved}" has no version {version}')
        versions = [versions[keep[0]]]
        diffs = [diffs[keep[0]]] if diffs and keep[0] < len(diffs) else None
    if emit_formatted(versions, as_json, template):
        return
    click.echo(format_history(versions, diffs))


@job_group.command("revert")
@click.option("-detach", "--detach", is_flag=True, help="Return right after submitting.")
@_verbose
@api_options
@click.argument("job_id")
@click.argument("version", type=int)
def job_revert(api: AgentClient, detach: bool, verbose: bool, job_id: str, version: int) -> None:
    """Revert a job to an earlier version, then monitor the evaluation."""
    resolved = resolve_job(api, job_id)
    resp = api.write(
        f"/v1/job/{resolved}/revert",
        {"JobID": resolved, "JobVersion": version},
        "retrieving job versions",
    )
    eval_id = resp.get("EvalID", "")
    if detach or not eval_id:
        click.echo(f"Evaluation ID: {eval_id}" if eval_id else "Job reverted")
        return
    raise SystemExit(Monitor(api, verbose=verbose).run(eval_id))


@job_group.command("inspect")
@click.option("-version", "--version", "version", type=int, default=None, help="This version.")
@output_options
@api_options
@click.argument("job_id")
def job_inspect(
    api: AgentClient, version: int | None, as_json: bool, template: str | None, job_id: str
) -> None:
    """Print a job's JSON, as the API returns it (``{"Job": ...}``)."""
    resolved = resolve_job(api, job_id)
    if version is None:
        job = api.read(f"/v1/job/{resolved}", "inspecting job")
    else:
        versions = api.read(f"/v1/job/{resolved}/versions", "retrieving job versions")
        found = [v for v in versions.get("Versions") or [] if v.get("Version") == version]
        if not found:
            raise CLIError(f'Job "{resolved}" has no version {version}')
        job = found[0]
    if template is not None:
        emit_formatted(job, False, template)
        return
    print_json({"Job": job})


@job_group.command("allocs")
@click.option("-all", "--all", "all_allocs", is_flag=True, help="Include earlier same-ID jobs.")
@_verbose
@output_options
@api_options
@click.argument("job_id")
def job_allocs(
    api: AgentClient,
    all_allocs: bool,
    verbose: bool,
    as_json: bool,
    template: str | None,
    job_id: str,
) -> None:
    """List a job's allocations."""
    resolved = resolve_job(api, job_id)
    allocs = api.read(
        f"/v1/job/{resolved}/allocations", "retrieving job allocations", {"all": all_allocs or None}
    )
    if emit_formatted(allocs, as_json, template):
        return
    if not allocs:
        click.echo(f'No allocations found for job "{resolved}"')
        return
    allocs.sort(key=lambda a: a.get("CreateIndex", 0), reverse=True)
    click.echo(alloc_table(allocs, verbose))


@job_group.command("deployments")
@_verbose
@output_options
@api_options
@click.argument("job_id")
def job_deployments(
    api: AgentClient, verbose: bool, as_json: bool, template: str | None, job_id: str
) -> None:
    """List a job's deployments, newest first."""
    resolved = resolve_job(api, job_id)
    deps = api.read(f"/v1/job/{resolved}/deployments", "retrieving deployments")
    if emit_formatted(deps, as_json, template):
        return
    if not deps:
        click.echo(f'No deployments found for job "{resolved}"')
        return
    click.echo(deployment_list_table(deps, verbose))


@job_group.command("dispatch")
@click.option("-meta", "--meta", "meta", multiple=True, help="Metadata as key=value (repeatable).")
@click.option("-detach", "--detach", is_flag=True, help="Return right after dispatching.")
@_verbose
@api_options
@click.argument("job_id")
@click.argument("input_source", required=False)
def job_dispatch(
    api: AgentClient,
    meta: tuple[str, ...],
    detach: bool,
    verbose: bool,
    job_id: str,
    input_source: str | None,
) -> None:
    """Dispatch an instance of a parameterized job; INPUT_SOURCE (a file, or - for stdin)
    becomes its payload."""
    metadata = {}
    for item in meta:
        key, sep, value = item.partition("=")
        if not sep:
            raise CLIError(f'Error parsing -meta "{item}": expected the form key=value')
        metadata[key] = value
    payload = b""
    if input_source == "-":
        payload = sys.stdin.buffer.read()
    elif input_source:
        try:
            with open(input_source, "rb") as fh:
                payload = fh.read()
        except OSError as err:
            raise CLIError(f"Error reading input data: {err.strerror}: {input_source}") from None
    body = {"Payload": base64.b64encode(payload).decode() if payload else None, "Meta": metadata}
    resp = api.write(f"/v1/job/{job_id}/dispatch", body, "dispatching job")
    click.echo(
        kv(
            [
                ("Dispatched Job ID", resp.get("DispatchedJobID", "")),
                ("Evaluation ID", resp.get("EvalID", "")),
            ]
        )
    )
    if detach or not resp.get("EvalID"):
        return
    click.echo("")
    raise SystemExit(Monitor(api, verbose=verbose).run(resp["EvalID"]))
