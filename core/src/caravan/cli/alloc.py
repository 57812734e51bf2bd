"""``caravan alloc ...``: status, logs, stop, restart and signal one allocation."""

from __future__ import annotations

import sys
from typing import Any

import click

from .agent_client import AgentClient, api_options
from .formatting import (
    bytes_human,
    format_event_time,
    format_rfc3339,
    heading,
    kv,
    pretty_age,
    short_id,
)
from .lookup import resolve_alloc
from .monitor import Monitor, format_metrics
from .output import CLIError, columns, emit_formatted, output_options

_verbose = click.option("-verbose", "--verbose", is_flag=True, help="Show full IDs and metrics.")


def event_description(event: dict[str, Any]) -> str:
    """What a task event says: its ``DisplayMessage``, else a description built from its
    legacy fields as older agents wrote them."""
    if event.get("DisplayMessage"):
        return event["DisplayMessage"]
    kind = event.get("Type", "")
    if kind == "Received":
        return "Task received by client"
    if kind == "Started":
        return "Task started by client"
    if kind == "Terminated":
        return f"Exit Code: {event.get('ExitCode', 0)}"
    return event.get("Message") or event.get("DriverMessage") or ""


def _addresses(alloc: dict[str, Any], task: str) -> list[str]:
    resources = alloc.get("AllocatedResources") or {}
    out = []
    for port in (resources.get("Shared") or {}).get("Ports") or []:
        out.append(f"{port.get('Label')}: {port.get('HostIP', '')}:{port.get('Value')}")
    task_res = (resources.get("Tasks") or {}).get(task) or {}
    for net in task_res.get("Networks") or []:
        for port in (net.get("ReservedPorts") or []) + (net.get("DynamicPorts") or []):
            out.append(f"{port.get('Label')}: {net.get('IP', '')}:{port.get('Value')}")
    return out


def task_resources(alloc: dict[str, Any], task: str, usage: dict[str, Any] | None) -> str:
    """The ``CPU  Memory  Disk  Addresses`` row; with usage stats ``3/500 MHz``."""
    resources = alloc.get("AllocatedResources") or {}
    task_res = (resources.get("Tasks") or {}).get(task) or {}
    cpu = (task_res.get("Cpu") or {}).get("CpuShares", 0)
    mem = (task_res.get("Memory") or {}).get("MemoryMB", 0)
    disk = (resources.get("Shared") or {}).get("DiskMB", 0)
    cpu_text, mem_text = f"{cpu} MHz", bytes_human(mem * 1024 * 1024)
    if usage:
        stats = usage.get("ResourceUsage") or {}
        used_cpu = int((stats.get("CpuStats") or {}).get("TotalTicks", 0))
        used_mem = (stats.get("MemoryStats") or {}).get("RSS", 0)
        cpu_text = f"{used_cpu}/{cpu_text}"
        mem_text = f"{bytes_human(used_mem)}/{mem_text}"
    addresses = _addresses(alloc, task)
    rows = [["CPU", "Memory", "Disk", "Addresses"]]
    rows.append(
        [cpu_text, mem_text, bytes_human(disk * 1024 * 1024), addresses[0] if addresses else ""]
    )
    rows += [["", "", "", a] for a in addresses[1:]]
    return columns(rows)


def format_task(
    alloc: dict[str, Any], name: str, state: dict[str, Any], usage: dict[str, Any] | None
) -> str:
    """One task's section: state line, resources, lifecycle times and recent events."""
    out = f'Task "{name}" is "{state.get("State", "pending")}"'
    out += "\n" + "Task Resources" + "\n" + task_resources(alloc, name, usage)
    last_restart = state.get("LastRestart")
    out += "\n\n" + kv(
        [
            ("Started At", format_rfc3339(state.get("StartedAt")).replace("<none>", "N/A")),
            ("Finished At", format_rfc3339(state.get("FinishedAt")).replace("<none>", "N/A")),
            ("Total Restarts", state.get("Restarts", 0)),
            ("Last Restart", format_rfc3339(last_restart).replace("<none>", "N/A")),
        ]
    )
    rows: list[list[Any]] = [["Time", "Type", "Description"]]
    for event in reversed(state.get("Events") or []):
        rows.append(
            [format_event_time(event.get("Time")), event.get("Type", ""), event_description(event)]
        )
    out += "\n" + heading("Recent Events:") + "\n" + columns(rows)
    return out


def format_alloc_status(
    alloc: dict[str, Any],
    usage: dict[str, dict[str, Any]] | None = None,
    *,
    verbose: bool = False,
    short: bool = False,
) -> str:
    """Everything ``caravan alloc status`` prints for an allocation's JSON."""
    pairs: list[tuple[str, Any]] = [
        ("ID", short_id(alloc["ID"], verbose)),
        ("Eval ID", short_id(alloc.get("EvalID"), verbose)),
        ("Name", alloc.get("Name", "")),
        ("Node ID", short_id(alloc.get("NodeID"), verbose)),
        ("Node Name", alloc.get("NodeName", "")),
        ("Job ID", alloc.get("JobID", "")),
        ("Job Version", alloc.get("JobVersion", (alloc.get("Job") or {}).get("Version", 0))),
        ("Client Status", alloc.get("ClientStatus", "")),
        ("Client Description", alloc.get("ClientDescription") or "<none>"),
        ("Desired Status", alloc.get("DesiredStatus", "")),
        ("Desired Description", alloc.get("DesiredDescription") or "<none>"),
        ("Created", pretty_age(alloc.get("CreateTime"))),
        ("Modified", pretty_age(alloc.get("ModifyTime"))),
    ]
    if alloc.get("DeploymentID"):
        health = (alloc.get("DeploymentStatus") or {}).get("Healthy")
        pairs.append(("Deployment ID", short_id(alloc["DeploymentID"], verbose)))
        pairs.append(
            (
                "Deployment Health",
                "unset" if health is None else "healthy" if health else "unhealthy",
            )
        )
        if (alloc.get("DeploymentStatus") or {}).get("Canary"):
            pairs.append(("Canary", True))
    if alloc.get("NextAllocation"):
        pairs.append(("Replacement Alloc ID", short_id(alloc["NextAllocation"], verbose)))
    out = kv(pairs)
    states = alloc.get("TaskStates") or {}
    if short:
        rows: list[list[Any]] = [["Name", "State", "Last Event", "Time"]]
        for name in sorted(states):
            events = states[name].get("Events") or []
            last = events[-1] if events else {}
            rows.append(
                [
                    name,
                    states[name].get("State", ""),
                    last.get("Type", ""),
                    format_event_time(last.get("Time")),
                ]
            )
        return out + "\n" + heading("Tasks") + "\n" + columns(rows)
    for name in sorted(states):
        out += "\n\n" + format_task(alloc, name, states[name], (usage or {}).get(name))
    if verbose and alloc.get("Metrics"):
        out += "\n" + heading("Placement Metrics") + "\n"
        out += "\n".join(format_metrics(alloc["Metrics"], "  ")) or "  <none>"
    return out


def show_alloc_status(api: AgentClient, alloc_id: str, *, verbose: bool, short: bool) -> None:
    """Print one allocation's status, with live usage when its client answers."""
    alloc = resolve_alloc(api, alloc_id)
    usage = None
    if alloc.get("ClientStatus") == "running":
        try:
            stats = api.read(f"/v1/client/allocation/{alloc['ID']}/stats", "querying stats")
            usage = stats.get("Tasks") or None
        except CLIError:
            usage = None  # a client that cannot report usage still has a status to show
    click.echo(format_alloc_status(alloc, usage, verbose=verbose, short=short))


@click.group("alloc")
def alloc_group() -> None:
    """Interact with allocations."""


@alloc_group.command("status")
@_verbose
@click.option("-short", "--short", is_flag=True, help="Only the task table.")
@output_options
@api_options
@click.argument("alloc_id")
def alloc_status(
    api: AgentClient, verbose: bool, short: bool, as_json: bool, template: str | None, alloc_id: str
) -> None:
    """Show an allocation's status, task states and recent task events."""
    if as_json or template is not None:
        emit_formatted(resolve_alloc(api, alloc_id), as_json, template)
        return
    show_alloc_status(api, alloc_id, verbose=verbose, short=short)


def _pick_task(alloc: dict[str, Any], task: str | None) -> str:
    tasks = sorted((alloc.get("TaskStates") or {}).keys())
    if not tasks:
        job = alloc.get("Job") or {}
        for group in job.get("TaskGroups") or []:
            if group.get("Name") == alloc.get("TaskGroup"):
                tasks = [t["Name"] for t in group.get("Tasks") or []]
    if task:
        if tasks and task not in tasks:
            raise CLIError(
                f"Could not find task named: {task}. Valid tasks are: {', '.join(tasks)}"
            )
        return task
    if len(tasks) == 1:
        return tasks[0]
    listing = "\n".join(f"  * {t}" for t in tasks)
    raise CLIError(
        f'Allocation "{short_id(alloc["ID"])}" is running the following tasks:\n{listing}\n\n'
        "Please specify the task."
    )


@alloc_group.command("logs")
@click.option("-f", "follow", is_flag=True, help="Keep streaming as the task writes.")
@click.option("-stderr", "--stderr", is_flag=True, help="Show stderr instead of stdout.")
@click.option("-tail", "--tail", is_flag=True, help="Show the end of the log.")
@click.option("-n", "lines", type=int, default=None, help="With -tail: this many lines (10).")
@click.option("-c", "nbytes", type=int, default=None, help="With -tail: this many bytes.")
@click.option("-task", "--task", "task_flag", default=None, help="The task (or give it as TASK).")
@api_options
@click.argument("alloc_id")
@click.argument("task", required=False)
def alloc_logs(
    api: AgentClient,
    follow: bool,
    stderr: bool,
    tail: bool,
    lines: int | None,
    nbytes: int | None,
    task_flag: str | None,
    alloc_id: str,
    task: str | None,
) -> None:
    """Print a task's stdout (or -stderr); -f follows, -tail -n N shows the last lines."""
    alloc = resolve_alloc(api, alloc_id)
    name = _pick_task(alloc, task or task_flag)
    params: dict[str, Any] = {"task": name, "type": "stderr" if stderr else "stdout", "plain": True}
    path = f"/v1/client/fs/logs/{alloc['ID']}"
    out = sys.stdout.buffer
    if tail or lines is not None or nbytes is not None:
        want_lines = 10 if lines is None and nbytes is None else lines
        window = nbytes if nbytes is not None else max(want_lines or 10, 1) * 512 + 4096
        with api.raw(
            "GET", path, "reading logs", {**params, "origin": "end", "offset": window}
        ) as resp:
            data = resp.read()
        if want_lines is not None:
            data = b"".join(data.splitlines(keepends=True)[-want_lines:])
        out.write(data)
        out.flush()
        if not follow:
            return
        params.update(origin="end", offset=0)
    params["follow"] = follow or None
    with api.raw(
        "GET", path, "reading logs", params, timeout=None if not follow else 3600 * 24
    ) as resp:
        while True:
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
            if not chunk:
                break
            out.write(chunk)
            out.flush()


@alloc_group.command("stop")
@click.option("-detach", "--detach", is_flag=True, help="Return right after stopping.")
@_verbose
@api_options
@click.argument("alloc_id")
def alloc_stop(api: AgentClient, detach: bool, verbose: bool, alloc_id: str) -> None:
    """Stop an allocation; the scheduler replaces it when its job still wants it."""
    alloc = resolve_alloc(api, alloc_id)
    resp = api.write(f"/v1/allocation/{alloc['ID']}/stop", {}, "stopping allocation")
    eval_id = resp.get("EvalID", "")
    if detach or not eval_id:
        click.echo(eval_id)
        return
    raise SystemExit(Monitor(api, verbose=verbose).run(eval_id, watch_deployment=False))


@alloc_group.command("restart")
@click.option("-task", "--task", "task_flag", default=None, help="Restart only this task.")
@click.option("-all-tasks", "--all-tasks", "all_tasks", is_flag=True, help="Restart every task.")
@api_options
@click.argument("alloc_id")
@click.argument("task", required=False)
def alloc_restart(
    api: AgentClient, task_flag: str | None, all_tasks: bool, alloc_id: str, task: str | None
) -> None:
    """Restart an allocation's tasks in place (one task with TASK or -task)."""
    alloc = resolve_alloc(api, alloc_id)
    name = task or task_flag or ""
    if name and all_tasks:
        raise CLIError("The -all-tasks option cannot be used when a task is given")
    if name:
        _pick_task(alloc, name)
    api.write(
        f"/v1/client/allocation/{alloc['ID']}/restart",
        {"TaskName": name, "AllTasks": all_tasks},
        "requesting restart",
    )


@alloc_group.command("signal")
@click.option("-s", "signal_name", default="SIGKILL", help="The signal to send (SIGKILL).")
@click.option("-task", "--task", "task_flag", default=None, help="Signal only this task.")
@api_options
@click.argument("alloc_id")
@click.argument("task", required=False)
def alloc_signal(
    api: AgentClient, signal_name: str, task_flag: str | None, alloc_id: str, task: str | None
) -> None:
    """Send a signal to an allocation's tasks (one task with TASK or -task)."""
    alloc = resolve_alloc(api, alloc_id)
    name = task or task_flag or ""
    if name:
        _pick_task(alloc, name)
    api.write(
        f"/v1/client/allocation/{alloc['ID']}/signal",
        {"Signal": signal_name.upper(), "Task": name},
        "requesting signal",
    )
