"""Short ID prefixes: turning what a user typed into one object, as Nomad's CLI does.

A prefix matching nothing is ``No <thing>(s) with prefix or id "x" found``; one matching
several lists them (``Prefix matched multiple allocations``) so the user can pick.
"""

from __future__ import annotations

from typing import Any

from .agent_client import AgentClient
from .formatting import format_unix_nano, pretty_age, short_id
from .output import CLIError, columns


def _pick(items: list[dict[str, Any]], prefix: str, key: str = "ID") -> dict[str, Any] | None:
    exact = [i for i in items if i.get(key) == prefix]
    if exact:
        return exact[0]
    return items[0] if len(items) == 1 else None


def resolve_job(api: AgentClient, prefix: str) -> str:
    """The ID of the one job ``prefix`` names; raises :class:`CLIError` otherwise."""
    jobs = api.read("/v1/jobs", "querying jobs", {"prefix": prefix})
    if not jobs:
        raise CLIError(f'No job(s) with prefix or id "{prefix}" found')
    job = _pick(jobs, prefix)
    if job is None:
        rows = [["ID", "Type", "Priority", "Status", "Submit Date"]]
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
        raise CLIError(f"Prefix matched multiple jobs\n\n{columns(rows)}")
    return job["ID"]


def job_status(stub: dict[str, Any]) -> str:
    """A job's status as listed: ``dead (stopped)`` for a stopped job."""
    status = stub.get("Status", "")
    return f"{status} (stopped)" if stub.get("Stop") else status


def alloc_table(allocs: list[dict[str, Any]], verbose: bool = False) -> str:
    """Nomad's allocation table (``ID  Node ID  Task Group  Version  Desired  Status  Created
    Modified``); ``verbose`` adds ``Eval ID`` and ``Node Name`` and shows full IDs."""
    head = ["ID", "Node ID", "Task Group", "Version", "Desired", "Status", "Created", "Modified"]
    if verbose:
        head = ["ID", "Eval ID", "Node ID", "Node Name", *head[2:]]
    rows: list[list[Any]] = [head]
    for a in allocs:
        row = [short_id(a["ID"], verbose)]
        if verbose:
            row.append(short_id(a.get("EvalID"), verbose))
        row.append(short_id(a.get("NodeID"), verbose))
        if verbose:
            row.append(a.get("NodeName", ""))
        row += [
            a.get("TaskGroup", ""),
            a.get("JobVersion", 0),
            a.get("DesiredStatus", ""),
            a.get("ClientStatus", ""),
            pretty_age(a.get("CreateTime")),
            pretty_age(a.get("ModifyTime")),
        ]
        rows.append(row)
    return columns(rows)


def resolve_alloc(api: AgentClient, prefix: str) -> dict[str, Any]:
    """The full allocation ``prefix`` names (``GET /v1/allocation/:id``)."""
    if len(prefix) == 1:
        raise CLIError("Alloc ID must contain at least two characters.")
    stubs = api.read("/v1/allocations", "querying allocations", {"prefix": prefix})
    if not stubs:
        raise CLIError(f'No allocation(s) with prefix or id "{prefix}" found')
    stub = _pick(stubs, prefix)
    if stub is None:
        raise CLIError(f"Prefix matched multiple allocations\n\n{alloc_table(stubs)}")
    return api.read(f"/v1/allocation/{stub['ID']}", "querying allocation")


def resolve_node(api: AgentClient, prefix: str) -> dict[str, Any]:
    """The full node ``prefix`` names (``GET /v1/node/:id``)."""
    stubs = api.read("/v1/nodes", "querying nodes", {"prefix": prefix})
    if not stubs:
        raise CLIError(f'No node(s) with prefix "{prefix}" found')
    stub = _pick(stubs, prefix)
    if stub is None:
        rows = [["ID", "DC", "Name", "Class", "Drain", "Eligibility", "Status"]]
        rows += [
            [
                short_id(n["ID"]),
                n.get("Datacenter", ""),
                n.get("Name", ""),
                n.get("NodeClass") or "<none>",
                n.get("Drain", False),
                n.get("SchedulingEligibility", ""),
                n.get("Status", ""),
            ]
            for n in stubs
        ]
        raise CLIError(f"Prefix matched multiple nodes\n\n{columns(rows)}")
    return api.read(f"/v1/node/{stub['ID']}", "querying node")


def resolve_eval(api: AgentClient, prefix: str) -> dict[str, Any]:
    """The evaluation ``prefix`` names."""
    evals = api.read("/v1/evaluations", "querying evaluations", {"prefix": prefix})
    if not evals:
        raise CLIError(f'No evaluation(s) with prefix or id "{prefix}" found')
    ev = _pick(evals, prefix)
    if ev is None:
        rows = [["ID", "Priority", "Triggered By", "Job ID", "Status"]]
        rows += [
            [
                short_id(e["ID"]),
                e.get("Priority", ""),
                e.get("TriggeredBy", ""),
                e.get("JobID", ""),
                e.get("Status", ""),
            ]
            for e in evals
        ]
        raise CLIError(f"Prefix matched multiple evaluations\n\n{columns(rows)}")
    return api.read(f"/v1/evaluation/{ev['ID']}", "querying evaluation")


def resolve_deployment(api: AgentClient, prefix: str) -> dict[str, Any]:
    """The deployment ``prefix`` names."""
    deps = api.read("/v1/deployments", "retrieving deployments", {"prefix": prefix})
    if not deps:
        raise CLIError(f'No deployment(s) with prefix or id "{prefix}" found')
    dep = _pick(deps, prefix)
    if dep is None:
        rows = [["ID", "Job ID", "Job Version", "Status", "Description"]]
        rows += [
            [
                short_id(d["ID"]),
                d.get("JobID", ""),
                d.get("JobVersion", ""),
                d.get("Status", ""),
                d.get("StatusDescription", ""),
            ]
            for d in deps
        ]
        raise CLIError(f"Prefix matched multiple deployments\n\n{columns(rows)}")
    return api.read(f"/v1/deployment/{dep['ID']}", "retrieving deployment")
