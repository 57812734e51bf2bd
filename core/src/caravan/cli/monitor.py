"""Watching what a submission set in motion: the evaluation, then the deployment.

:class:`Monitor` prints Nomad's evaluation monitor lines as they happen (allocations created,
status changes, placement failures with their metrics), follows the evaluation's
``NextEval`` chain, then watches the job's deployment until it succeeds, fails, or waits for
a manual promotion. On a terminal the deployment block redraws in place; otherwise each change
is one plain line, so logs of CI jobs read well.

Exit codes, as ``nomad job run``: 0 done, 1 the deployment failed, 2 allocations could not all
be placed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import click

from .agent_client import AgentClient
from .deployment import format_deployment
from .formatting import format_unix_nano, short_id

#: How long one blocking query waits for a change.
EVAL_WAIT = 5.0
DEPLOYMENT_WAIT = 2.0

TERMINAL_DEPLOYMENT = ("successful", "failed", "cancelled")
EXIT_DEPLOYMENT_FAILED = 1
EXIT_PLACEMENT_FAILED = 2


def format_metrics(metrics: dict[str, Any], prefix: str) -> list[str]:
    """Why placements failed, one ``* ...`` line per reason (Nomad's ``formatAllocMetrics``)."""
    out = []
    if not metrics.get("NodesEvaluated"):
        out.append(f"{prefix}* No nodes were eligible for evaluation")
    for dc, available in sorted((metrics.get("NodesAvailable") or {}).items()):
        if available == 0:
            out.append(f'{prefix}* No nodes are available in datacenter "{dc}"')
    for cls, n in sorted((metrics.get("ClassFiltered") or {}).items()):
        out.append(f'{prefix}* Class "{cls}": {n} nodes excluded by filter')
    for cons, n in sorted((metrics.get("ConstraintFiltered") or {}).items()):
        out.append(f'{prefix}* Constraint "{cons}": {n} nodes excluded by filter')
    if metrics.get("NodesExhausted"):
        out.append(f"{prefix}* Resources exhausted on {metrics['NodesExhausted']} nodes")
    for cls, n in sorted((metrics.get("ClassExhausted") or {}).items()):
        out.append(f'{prefix}* Class "{cls}" exhausted on {n} nodes')
    for dim, n in sorted((metrics.get("DimensionExhausted") or {}).items()):
        out.append(f'{prefix}* Dimension "{dim}" exhausted on {n} nodes')
    for quota in metrics.get("QuotaExhausted") or []:
        out.append(f'{prefix}* Quota limit hit "{quota}"')
    return out


def placement_failures(failed: dict[str, Any], prefix: str = "    ") -> list[str]:
    """Per task group: ``Task Group "cache" (failed to place 1 allocation):`` + metrics."""
    out = []
    for group in sorted(failed):
        metrics = failed[group] or {}
        n = int(metrics.get("CoalescedFailures") or 0) + 1
        noun = "allocation" if n == 1 else "allocations"
        out.append(f'{prefix}Task Group "{group}" (failed to place {n} {noun}):')
        out += format_metrics(metrics, prefix + "  ")
    return out


class Monitor:
    """Monitors one evaluation (and the deployment it leads to) through the HTTP API.

    :param echo: where lines go (``click.echo`` by default).
    :param tty: redraw the deployment block in place (default: stdout is a terminal).
    """

    def __init__(
        self,
        api: AgentClient,
        *,
        echo: Callable[[str], None] = click.echo,
        tty: bool | None = None,
        deployment_timeout: float | None = None,
        verbose: bool = False,
    ) -> None:
        self.api = api
        self.verbose = verbose
        self.echo = echo
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.deployment_timeout = deployment_timeout

    def _id(self, value: str | None) -> str:
        return short_id(value, self.verbose)

    def run(self, eval_id: str, *, watch_deployment: bool = True) -> int:
        """Monitor ``eval_id`` to its end, then the deployment; returns the exit code."""
        self.echo(f'==> Monitoring evaluation "{self._id(eval_id)}"')
        ev = self._eval(eval_id)
        if ev.get("FailedTGAllocs"):
            self.echo(
                f'==> Evaluation "{self._id(ev["ID"])}" finished with status '
                f'"{ev["Status"]}" but failed to place all allocations:'
            )
            for line in placement_failures(ev["FailedTGAllocs"]):
                self.echo(line)
            if ev.get("BlockedEval"):
                self.echo(
                    f'    Evaluation "{self._id(ev["BlockedEval"])}" waiting for additional '
                    "capacity to place remainder"
                )
            return EXIT_PLACEMENT_FAILED
        self.echo(f'==> Evaluation "{self._id(ev["ID"])}" finished with status "{ev["Status"]}"')
        if ev.get("Status") != "complete":
            return EXIT_DEPLOYMENT_FAILED
        if not watch_deployment:
            return 0
        dep_id = ev.get("DeploymentID") or self._latest_deployment(ev)
        if not dep_id:
            return 0
        return self.deployment(dep_id)

    def _latest_deployment(self, ev: dict[str, Any]) -> str:
        if ev.get("Type") not in ("service", None) or not ev.get("JobID"):
            return ""
        dep = self.api.read(
            f"/v1/job/{ev['JobID']}/deployment",
            "querying deployment",
            {"namespace": ev.get("Namespace")},
        )
        if dep and dep.get("JobModifyIndex", 0) == ev.get("JobModifyIndex", -1):
            return dep["ID"]
        return ""

    def _eval(self, eval_id: str) -> dict[str, Any]:
        """Follow one evaluation (and its ``NextEval`` chain) until it is no longer pending."""
        index = 0
        status = ""
        seen_allocs: set[str] = set()
        first = True
        while True:
            ev = self.api.blocking_read(
                f"/v1/evaluation/{eval_id}", "reading evaluation", index, EVAL_WAIT
            )
            index = self.api.last_index
            if first:
                first = False
                if ev.get("NodeID"):
                    self.echo(f'    Evaluation triggered by node "{self._id(ev["NodeID"])}"')
                elif ev.get("JobID"):
                    self.echo(f'    Evaluation triggered by job "{ev["JobID"]}"')
                if ev.get("DeploymentID"):
                    self.echo(f'    Evaluation within deployment: "{self._id(ev["DeploymentID"])}"')
            self._report_allocs(ev, seen_allocs)
            if status and ev["Status"] != status:
                self.echo(f'    Evaluation status changed: "{status}" -> "{ev["Status"]}"')
            status = ev["Status"]
            if status == "pending":
                continue
            if ev.get("NextEval") and status == "complete":
                wait = (ev.get("Wait") or 0) / 1e9
                self.echo(
                    f'    Monitoring next evaluation "{self._id(ev["NextEval"])}" in {wait:g}s'
                )
                eval_id, index, status, first = ev["NextEval"], 0, "", True
                continue
            return ev

    def _report_allocs(self, ev: dict[str, Any], seen: set[str]) -> None:
        allocs = self.api.read(f"/v1/evaluation/{ev['ID']}/allocations", "reading allocations")
        for alloc in sorted(allocs, key=lambda a: a.get("CreateIndex", 0)):
            if alloc["ID"] in seen:
                continue
            seen.add(alloc["ID"])
            verb = (
                "created" if alloc.get("CreateIndex", 0) >= ev.get("CreateIndex", 0) else "modified"
            )
            self.echo(
                f'    Allocation "{self._id(alloc["ID"])}" {verb}: node '
                f'"{self._id(alloc.get("NodeID"))}", group "{alloc.get("TaskGroup", "")}"'
            )

    def deployment(self, dep_id: str) -> int:
        """Watch a deployment until it ends (or waits for promotion); returns the exit code."""
        self.echo(f'==> Monitoring deployment "{self._id(dep_id)}"')
        index = 0
        last_line = ""
        drawn = 0
        started = time.monotonic()
        while True:
            dep = self.api.blocking_read(
                f"/v1/deployment/{dep_id}", "reading deployment", index, DEPLOYMENT_WAIT
            )
            index = self.api.last_index
            status = dep.get("Status", "")
            done = status in TERMINAL_DEPLOYMENT or "requires manual promotion" in dep.get(
                "StatusDescription", ""
            )
            block = format_deployment(dep)
            if self.tty:
                if drawn:
                    # Move the cursor back over the previous drawing and clear below it.
                    sys.stdout.write(f"\x1b[{drawn}A\x1b[J")
                text = _indent(f"{format_unix_nano(time.time_ns())}\n{block}")
                self.echo(text)
                drawn = text.count("\n") + 1
            else:
                line = f'    Deployment "{self._id(dep_id)}": {dep.get("StatusDescription", "")}'
                line += _progress(dep)
                if line != last_line:
                    self.echo(line)
                    last_line = line
            if done:
                break
            if self.deployment_timeout and time.monotonic() - started > self.deployment_timeout:
                self.echo(f'    Stopped watching deployment "{self._id(dep_id)}"; it continues')
                return 0
        mark = {"successful": "✓", "failed": "!", "cancelled": "!"}.get(status, "⠿")
        self.echo(f'  {mark} Deployment "{self._id(dep_id)}" {status}')
        if not self.tty:
            self.echo("")
            self.echo(_indent(block))
        return EXIT_DEPLOYMENT_FAILED if status == "failed" else 0


def _progress(dep: dict[str, Any]) -> str:
    groups = dep.get("TaskGroups") or {}
    parts = [
        f"{name}: {s.get('HealthyAllocs', 0)}/{s.get('DesiredTotal', 0)} healthy"
        for name, s in sorted(groups.items())
    ]
    return f" ({', '.join(parts)})" if parts else ""


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())
