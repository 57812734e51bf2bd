"""``caravan job plan``: what submitting a job file would change, without changing anything.

Exit codes, as Nomad's: 0 no allocations would be created or destroyed, 1 some would,
255 the plan could not be made.
"""

from __future__ import annotations

from typing import Any

import click

from .agent_client import AgentClient, api_options
from .job import job_group
from .jobfile import load_job, variable_options
from .monitor import format_metrics
from .output import CLIError

EXIT_PLAN_ERROR = 255

#: DesiredTGUpdates field -> the word ``job plan`` prints after a task group.
UPDATE_WORDS = {
    "Place": "create",
    "Stop": "destroy",
    "Migrate": "migrate",
    "InPlaceUpdate": "in-place update",
    "DestructiveUpdate": "create/destroy update",
    "Canary": "canary",
    "Ignore": "ignore",
    "Preemptions": "preempt",
}

MODIFY_INDEX_HELP = """\
To submit the job with version verification run:

caravan job run -check-index {index} {path}

When running the job with the check-index flag, the job will only be run if the
job modify index given matches the server-side version. If the index has
changed, another user has modified the job and the plan's results are
potentially invalid."""


def group_updates(resp: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Each group's non-zero desired updates, keyed by the words ``job plan`` prints."""
    desired = (resp.get("Annotations") or {}).get("DesiredTGUpdates") or {}
    return {
        group: {word: counts[field] for field, word in UPDATE_WORDS.items() if counts.get(field)}
        for group, counts in desired.items()
    }


def format_dry_run(resp: dict[str, Any], job_type: str) -> str:
    """The ``Scheduler dry-run:`` bullets."""
    failed = resp.get("FailedTGAllocs") or {}
    lines: list[str] = []
    if not failed:
        lines.append("- All tasks successfully allocated.")
    else:
        if job_type == "system":
            lines.append("- WARNING: Failed to place allocations on all nodes.")
        else:
            lines.append("- WARNING: Failed to place all allocations.")
        for group in sorted(failed):
            metrics = failed[group] or {}
            n = int(metrics.get("CoalescedFailures") or 0) + 1
            noun = "allocation" if n == 1 else "allocations"
            lines.append(f'  Task Group "{group}" (failed to place {n} {noun}):')
            lines += format_metrics(metrics, "    ")
            lines.append("")
    rolling = [
        e for e in resp.get("CreatedEvals") or [] if e.get("TriggeredBy") == "rolling-update"
    ]
    if rolling:
        wait = (rolling[-1].get("Wait") or 0) / 1e9
        lines.append(f"- Rolling update, next evaluation will be in {wait:g}s.")
    return "\n".join(lines).rstrip("\n")


def format_plan(
    resp: dict[str, Any], path: str, job_type: str, *, diff: bool, verbose: bool
) -> str:
    """The whole ``job plan`` output for a plan response."""
    # The job model is imported only by the commands that render diffs: it is slow to load.
    from caravan.structs.diff_format import format_diff

    parts = []
    if diff and resp.get("Diff"):
        parts.append(
            format_diff(resp["Diff"], verbose=verbose, updates=group_updates(resp)).strip() + "\n"
        )
    parts.append("Scheduler dry-run:")
    parts.append(format_dry_run(resp, job_type))
    parts.append("")
    if resp.get("Warnings"):
        parts.append(f"Job Warnings:\n{resp['Warnings']}\n")
    index = resp.get("JobModifyIndex", 0)
    parts.append(f"Job Modify Index: {index}")
    parts.append(MODIFY_INDEX_HELP.format(index=index, path=path))
    return "\n".join(parts)


def plan_exit_code(resp: dict[str, Any]) -> int:
    """1 when allocations would be created, destroyed, migrated or replaced; else 0."""
    desired = (resp.get("Annotations") or {}).get("DesiredTGUpdates") or {}
    for counts in desired.values():
        fields = ("Stop", "Place", "Migrate", "DestructiveUpdate", "Canary")
        if sum(int(counts.get(f) or 0) for f in fields) > 0:
            return 1
    return 0


@job_group.command("plan")
@variable_options
@click.option("-diff/-no-diff", "--diff/--no-diff", default=True, help="Show the job diff.")
@click.option("-verbose", "--verbose", is_flag=True, help="Show unchanged fields as well.")
@click.option("-policy-override", "--policy-override", "policy_override", is_flag=True, hidden=True)
@api_options
@click.argument("path")
def job_plan(
    api: AgentClient,
    variables: tuple[str, ...],
    var_files: tuple[str, ...],
    diff: bool,
    verbose: bool,
    policy_override: bool,
    path: str,
) -> None:
    """Dry-run a job file: show the diff against the running job and what the scheduler
    would do, plus the modify index to pass to ``job run -check-index``."""
    try:
        parsed = load_job(path, variables, var_files)
    except CLIError as err:
        err.exit_code = EXIT_PLAN_ERROR
        raise
    job = parsed.api_json()["Job"]
    body = {"Job": job, "Diff": diff, "PolicyOverride": policy_override}
    try:
        resp = api.write(f"/v1/job/{job['ID']}/plan", body, "during plan")
    except CLIError as err:
        err.exit_code = EXIT_PLAN_ERROR
        raise
    click.echo(format_plan(resp, path, job.get("Type") or "service", diff=diff, verbose=verbose))
    raise SystemExit(plan_exit_code(resp))
