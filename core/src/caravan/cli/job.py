"""``caravan job ...``: the job commands (init, validate, run)."""

from __future__ import annotations

import os
from importlib.resources import files

import click

from .agent_client import AgentClient, address_option
from .jobfile import load_job, variable_options
from .output import CLIError, print_json

DEFAULT_INIT_FILE = "example.nomad"


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
@click.option("-detach", "--detach", is_flag=True, help="Return right after submitting.")
@address_option
@click.argument("path")
def job_run(
    variables: tuple[str, ...],
    var_files: tuple[str, ...],
    output: bool,
    check_index: int | None,
    detach: bool,
    address: str | None,
    path: str,
) -> None:
    """Submit a job file to the agent (or print it with -output)."""
    parsed = load_job(path, variables, var_files)
    if output:
        print_json(parsed.api_json())
        return
    body = parsed.api_json()
    if check_index is not None:
        body["EnforceIndex"] = True
        body["JobModifyIndex"] = check_index
    resp = AgentClient(address).write("/v1/jobs", body, action="submitting job")
    eval_id = resp.get("EvalID", "")
    if detach or not eval_id:
        click.echo("Job registration successful")
        if eval_id:
            click.echo(f"Evaluation ID: {eval_id}")
        return
    click.echo(f'==> Monitoring evaluation "{eval_id[:8]}"')
