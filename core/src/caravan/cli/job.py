"""``caravan job ...``: write, check, submit, plan and stop jobs.

The read-only verbs (status, history, inspect, allocs, deployments) live in
:mod:`caravan.cli.job_status` and :mod:`caravan.cli.job_history`, and add themselves to
:data:`job_group`.
"""

from __future__ import annotations

import os
import re
from importlib.resources import files

import click

from .agent_client import AgentClient, api_options
from .jobfile import load_job, variable_options
from .lookup import resolve_job
from .monitor import Monitor
from .output import CLIError, print_json

DEFAULT_INIT_FILE = "example.nomad"

_ENFORCE_INDEX = re.compile(r"\((Enforcing job modify index.*)\)", re.S)


@click.group("job")
def job_group() -> None:
    """Interact with jobs."""


@job_group.command("init")
@click.option("-short", "--short", is_flag=True, help="Write a minimal job file without comments.")
@click.argument("filename", required=False, default=DEFAULT_INIT_FILE)
def job_init(short: bool, filename: str) -> None:
    """Write an example job file (default example.nomad) to start from."""
    if os.path.exists(filename):
        raise CLIError(f"Job '{filename}' already exists")
    asset = "example-short.nomad" if short else "example.nomad"
    text = files("caravan.cli").joinpath("assets", asset).read_text()
    try:
        with open(filename, "x") as fh:
            fh.write(text)
    except OSError as err:
        raise CLIError(f"Failed to write '{filename}': {err.strerror}") from None
    click.echo(f"Example job file written to {filename}")


@job_group.command("validate")
@variable_options
@click.argument("path")
def job_validate(variables: tuple[str, ...], var_files: tuple[str, ...], path: str) -> None:
    """Check a job file for syntax and validation errors without submitting it."""
    parsed = load_job(path, variables, var_files)
    for warning in parsed.warnings:
        click.echo(f"Job Warnings:\n{warning}\n", err=True)
    click.echo("Job validation successful")


_verbose = click.option("-verbose", "--verbose", is_flag=True, help="Show full IDs.")
_detach = click.option(
    "-detach", "--detach", is_flag=True, help="Return right after submitting, printing the eval ID."
)


@job_group.command("run")
@variable_options
@click.option(
    "-output", "--output", is_flag=True, help="Print the JSON that would be submitted and exit."
)
@click.option(
    "-check-index",
    "--check-index",
    "check_index",
    type=int,
    default=None,
    help="Register only if the job's modify index equals this value (0: only if new).",
)
@_detach
@_verbose
@click.option(
    "-preserve-counts",
    "--preserve-counts",
    "preserve_counts",
    is_flag=True,
    help="Keep the current group counts of a running job.",
)
@api_options
@click.argument("path")
def job_run(
    api: AgentClient,
    variables: tuple[str, ...],
    var_files: tuple[str, ...],
    output: bool,
    check_index: int | None,
    detach: bool,
    verbose: bool,
    preserve_counts: bool,
    path: str,
) -> None:
    """Submit a job file, then monitor its evaluation and deployment (or print it with -output).

    Exit codes: 0 success, 1 error or failed deployment, 2 allocations could not be placed.
    """
    parsed = load_job(path, variables, var_files)
    if output:
        print_json(parsed.api_json())
        return
    body = parsed.api_json()
    if check_index is not None:
        body["EnforceIndex"] = True
        body["JobModifyIndex"] = check_index
    if preserve_counts:
        body["PreserveCounts"] = True
    try:
        resp = api.write("/v1/jobs", body, action="submitting job")
    except CLIError as err:
        match = _ENFORCE_INDEX.search(err.message)
        if match:
            raise CLIError(f"{match.group(1)}\nJob not updated") from None
        raise
    if resp.get("Warnings"):
        click.echo(f"Job Warnings:\n{resp['Warnings']}\n")
    eval_id = resp.get("EvalID", "")
    if not eval_id:
        # Periodic and parameterized jobs create no evaluation until launched.
        click.echo("Job registration successful")
        return
    if detach:
        click.echo("Job registration successful")
        click.echo(f"Evaluation ID: {eval_id}")
        return
    raise SystemExit(Monitor(api, verbose=verbose).run(eval_id))


@job_group.command("stop")
@click.option("-purge", "--purge", is_flag=True, help="Remove the job now instead of at GC.")
@_detach
@_verbose
@click.option("-yes", "--yes", is_flag=True, help="Do not ask for confirmation.")
@api_options
@click.argument("job_id")
def job_stop(
    api: AgentClient, purge: bool, detach: bool, verbose: bool, yes: bool, job_id: str
) -> None:
    """Stop a running job (and remove it with -purge), then monitor the evaluation."""
    resolved = resolve_job(api, job_id)
    resp = api.delete(
        f"/v1/job/{resolved}", "deregistering job", {"purge": True} if purge else None
    )
    eval_id = resp.get("EvalID", "")
    if detach or not eval_id:
        click.echo(eval_id)
        return
    raise SystemExit(Monitor(api, verbose=verbose).run(eval_id, watch_deployment=False))
