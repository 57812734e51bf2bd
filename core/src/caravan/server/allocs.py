"""Allocation and service endpoints: what clients report and fetch, and ``alloc stop``.

Clients report allocation status in batches (``alloc_client_update``); allocations that
became terminal free capacity, so blocked evaluations may place, and failed ones get an
``alloc-failure`` evaluation so the scheduler can reschedule them. Clients watch their
allocations with the blocking ``node_get_client_allocs``.
"""

from __future__ import annotations

import time
from typing import Any

from caravan.rpc.forwarding import leader_endpoint
from caravan.server.errors import NotFoundError, RequestError
from caravan.server.evals import new_eval
from caravan.state import commands as c
from caravan.structs import Allocation, ServiceRegistration
from caravan.structs.consts import ALLOC_MIGRATING, TRIGGER_ALLOC_STOP, TRIGGER_RETRY_FAILED_ALLOC

_TERMINAL = ("complete", "failed", "lost")


class AllocEndpoints:
    """The allocation and service endpoints of :class:`~caravan.server.Server`."""

    @leader_endpoint
    async def alloc_stop(self, alloc_id: str) -> dict[str, Any]:
        """Stop an allocation; the scheduler places a replacement (``nomad alloc stop``)."""
        alloc = self.state.alloc_by_id(alloc_id)
        if alloc is None:
            raise NotFoundError(f"allocation {alloc_id!r} not found")
        job = self.state.job_by_id(alloc.namespace, alloc.job_id) or alloc.job
        if job is None:
            raise NotFoundError(f"job {alloc.job_id!r} of allocation {alloc_id!r} not found")
        ev = new_eval(job, TRIGGER_ALLOC_STOP)
        stopped = [{"ID": alloc_id, "DesiredDescription": ALLOC_MIGRATING}]
        result = await self._apply_with_evals(c.plan_apply(None, stopped=stopped, evals=[ev]), [ev])
        self.plan_applier.invalidate([alloc.node_id])
        self.blocked.unblock_all(result["Index"])
        return {"EvalID": ev.id, "Index": result["Index"]}

    @leader_endpoint
    async def alloc_client_update(self, allocs: list[dict[str, Any]]) -> int:
        """Apply a batch of client reports (``ID``, ``ClientStatus``, ``TaskStates``,
        ``DeploymentStatus``…); returns the Raft index."""
        snap = self.state.snapshot()
        freed_nodes: set[str] = set()
        failed_jobs: dict[tuple[str, str], Any] = {}
        for update in allocs:
            if not update.get("ID"):
                raise RequestError("allocation update is missing its ID")
            alloc = snap.alloc_by_id(update["ID"])
            if alloc is None:
                continue
            status = update.get("ClientStatus", alloc.client_status)
            if status in _TERMINAL and alloc.client_status not in _TERMINAL:
                freed_nodes.add(alloc.node_id)
                if status == "failed":
                    job = snap.job_by_id(alloc.namespace, alloc.job_id)
                    if job is not None and not job.stop:
                        failed_jobs[(job.namespace, job.id)] = job
        evals = [new_eval(job, TRIGGER_RETRY_FAILED_ALLOC) for job in failed_jobs.values()]
        result = await self._apply_with_evals(c.alloc_client_update(allocs, evals), evals)
        if freed_nodes:
            self.plan_applier.invalidate(freed_nodes)
            for node_id in freed_nodes:
                node = snap.node_by_id(node_id)
                if node is not None:
                    self.blocked.unblock(node.computed_class, result["Index"])
        return result["Index"]

    async def node_get_client_allocs(
        self, node_id: str, min_index: int, wait: float
    ) -> tuple[int, dict[str, int]]:
        """Block until an allocation of ``node_id`` changed after ``min_index`` (or ``wait``
        seconds); returns the allocations table index and ``{alloc id: AllocModifyIndex}``."""
        if self.state.node_by_id(node_id) is None:
            raise NotFoundError(f"node {node_id!r} not found")
        deadline = time.monotonic() + wait
        while True:
            snap = self.state.snapshot()
            allocs = {a.id: a.alloc_modify_index for a in snap.allocs_by_node(node_id)}
            index = snap.table_index("allocs")
            remaining = deadline - time.monotonic()
            if remaining <= 0 or any(i > min_index for i in allocs.values()) or min_index == 0:
                return max(index, 1), allocs
            await self.state.wait_for(["allocs"], max(index, min_index), remaining)

    async def allocs_get(self, alloc_ids: list[str]) -> list[Allocation]:
        """The allocations with these IDs (unknown ones are left out)."""
        snap = self.state.snapshot()
        return [a for a in (snap.alloc_by_id(i) for i in alloc_ids) if a is not None]

    @leader_endpoint
    async def service_upsert(self, regs: list[ServiceRegistration]) -> int:
        """Register service instances (built-in discovery); returns the Raft index."""
        for reg in regs:
            if not reg.id or not reg.service_name:
                raise RequestError("service registration needs an ID and a ServiceName")
        result = await self._apply(c.service_upsert(regs))
        return result["Index"]

    @leader_endpoint
    async def service_delete(self, namespace: str, service_name: str, reg_id: str) -> int:
        """Remove one service instance; returns the Raft index."""
        reg = self.state.service_registration_by_id(reg_id)
        if reg is None or reg.namespace != namespace or reg.service_name != service_name:
            raise NotFoundError(
                f"service registration {reg_id!r} of {service_name!r} not found "
                f"in namespace {namespace!r}"
            )
        result = await self._apply(c.service_delete(namespace, reg_id))
        return result["Index"]
