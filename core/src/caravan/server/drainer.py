"""The node drainer: the leader's loop that empties draining nodes.

Starting a drain makes the node ineligible and evaluates every job on it; the reconciler then
migrates at most ``migrate.max_parallel`` allocations of each group per evaluation. On each
pass the drainer re-evaluates jobs that still have allocations on a draining node (and no
evaluation already in progress), so the next batch moves once the previous one has. System
allocations are stopped last (unless ``IgnoreSystemJobs``). When the force deadline passes
everything left is stopped at once. A node with nothing left to move has its drain completed;
it stays ineligible, as in Nomad.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from caravan.server.evals import new_eval
from caravan.server.nodes import _live, node_event
from caravan.state import commands as c
from caravan.state.tables import NODES
from caravan.structs import now_ns
from caravan.structs.consts import ALLOC_MIGRATING, TRIGGER_NODE_DRAIN

log = logging.getLogger(__name__)

_SYSTEM = ("system", "sysbatch")


class NodeDrainer:
    """Drives drains for a :class:`~caravan.server.Server` (leader only)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        # The nodes table last scanned and the IDs of its draining nodes: the table is
        # persistent, so while it is the same object the scan would find the same nodes.
        self._scanned: tuple[Any, list[str]] | None = None

    async def run(self) -> None:
        """Pass over draining nodes every ``drain_interval`` seconds until cancelled."""
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("node drainer pass failed")
            await asyncio.sleep(self.server.config.drain_interval)

    async def tick(self) -> None:
        """One pass over every draining node (in node ID order)."""
        for node_id in self._draining():
            node = self.server.state.node_by_id(node_id)
            if node is not None and node.drain_strategy is not None:
                await self._drain(node)

    def _draining(self) -> list[str]:
        table = self.server.state.snapshot().data.tables[NODES]
        if self._scanned is None or self._scanned[0] is not table:
            draining = sorted(n.id for n in table.values() if n.drain_strategy is not None)
            self._scanned = (table, draining)
        return self._scanned[1]

    async def _drain(self, node: Any) -> None:
        server = self.server
        snap = server.state.snapshot()
        strategy = node.drain_strategy
        live = [a for a in snap.allocs_by_node(node.id) if _live(a)]
        system = [a for a in live if a.job is not None and a.job.type in _SYSTEM]
        regular = [a for a in live if a not in system]
        if strategy.ignore_system_jobs:
            system = []
        forced = strategy.force_deadline is not None and (
            strategy.force_deadline.timestamp() * 1e9 <= now_ns()
        )
        if forced and (regular or system):
            await self._stop(regular + system)
        elif regular:
            await self._reevaluate(regular)
        elif system:
            await self._stop(system)
        else:
            event = node_event("Node drain complete", "Drain")
            await server._apply(c.node_drain(node.id, None, False, event))

    def _jobs_of(self, allocs: list[Any]) -> list[Any]:
        snap = self.server.state.snapshot()
        jobs = {}
        for alloc in allocs:
            job = snap.job_by_id(alloc.namespace, alloc.job_id)
            if job is not None:
                jobs[(job.namespace, job.id)] = job
        return list(jobs.values())

    async def _reevaluate(self, allocs: list[Any]) -> None:
        snap = self.server.state.snapshot()
        evals = []
        for job in self._jobs_of(allocs):
            busy = any(
                e.status in ("pending", "blocked") for e in snap.evals_by_job(job.namespace, job.id)
            )
            if not busy:
                evals.append(new_eval(job, TRIGGER_NODE_DRAIN))
        await self.server.upsert_evals(evals)

    async def _stop(self, allocs: list[Any]) -> None:
        evals = [new_eval(job, TRIGGER_NODE_DRAIN) for job in self._jobs_of(allocs)]
        stopped = [{"ID": a.id, "DesiredDescription": ALLOC_MIGRATING} for a in allocs]
        await self.server._apply_with_evals(c.plan_apply(None, stopped=stopped, evals=evals), evals)
        self.server.plan_applier.invalidate({a.node_id for a in allocs})
