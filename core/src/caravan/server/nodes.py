"""Node endpoints: registration, heartbeats, status, drain, eligibility, purge and drivers.

A node that becomes ready, eligible, or changes what it offers may let blocked evaluations
place; one that goes down or starts draining must shed its allocations. The endpoints create
Nomad's ``node-update`` / ``node-drain`` evaluations — one per job with allocations on the
node, plus every system job when the node can take new work — in the same Raft command as
the change where the command allows it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from caravan.rpc.forwarding import leader_endpoint
from caravan.server.errors import NotFoundError, RequestError
from caravan.server.evals import new_eval
from caravan.state import commands as c
from caravan.state.tables import JOBS
from caravan.structs import DriverInfo, Node, now_ns
from caravan.structs.consts import (
    NODE_ELIGIBLE,
    NODE_INELIGIBLE,
    NODE_STATUS_DISCONNECTED,
    NODE_STATUS_DOWN,
    NODE_STATUS_INIT,
    NODE_STATUS_READY,
    TRIGGER_NODE_DRAIN,
    TRIGGER_NODE_UPDATE,
)

NODE_STATUSES = (NODE_STATUS_INIT, NODE_STATUS_READY, NODE_STATUS_DOWN, NODE_STATUS_DISCONNECTED)


def node_event(message: str, subsystem: str) -> dict[str, Any]:
    """A node event (API JSON) stamped now."""
    return {
        "Message": message,
        "Subsystem": subsystem,
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def _live(alloc: Any) -> bool:
    return alloc.desired_status == "run" and alloc.client_status not in (
        "complete",
        "failed",
        "lost",
    )


class NodeEndpoints:
    """The node endpoints of :class:`~caravan.server.Server`."""

    def _node(self, node_id: str) -> Any:
        node = self.state.node_by_id(node_id)
        if node is None:
            raise NotFoundError(f"node {node_id!r} not found")
        return node

    def node_evals(self, node: Any, trigger: str, *, system_jobs: bool) -> list[Any]:
        """One evaluation per job with live allocations on ``node`` (and, with
        ``system_jobs``, per system job that could run there)."""
        snap = self.state.snapshot()
        jobs: dict[tuple[str, str], Any] = {}
        for alloc in snap.allocs_by_node(node.id):
            if _live(alloc):
                job = snap.job_by_id(alloc.namespace, alloc.job_id)
                if job is not None:
                    jobs[(job.namespace, job.id)] = job
        if system_jobs:
            # Filter before sorting: every node registration asks, and system jobs are few.
            system = [
                job
                for job in snap.data.tables[JOBS].values()
                if job.type in ("system", "sysbatch") and not job.stop
            ]
            for job in sorted(system, key=lambda j: (j.namespace, j.id)):
                jobs[(job.namespace, job.id)] = job
        return [
            new_eval(job, trigger, node_id=node.id, node_modify_index=node.modify_index)
            for job in jobs.values()
        ]

    def _reset_heartbeat(self, node_id: str) -> float:
        if not self._leader:
            return self.config.min_heartbeat_ttl
        # As Nomad does, the TTL scales with the nodes the leader has timers for (the live
        # ones, this one included): counting them is O(1), listing the state's nodes is not.
        live = len(self.heartbeats) + (node_id not in self.heartbeats)
        return self.heartbeats.reset(node_id, live)

    def _node_response(self, result: dict[str, Any], evals: list[Any]) -> dict[str, Any]:
        return {
            "EvalIDs": [e.id for e in evals] or None,
            "EvalCreateIndex": result.get("EvalCreateIndex", 0),
            "NodeModifyIndex": result.get("NodeModifyIndex", 0),
            "Index": result["Index"],
        }

    # ------------------------------------------------------------------ registration

    @leader_endpoint
    async def node_register(self, node: Node) -> dict[str, Any]:
        """Register or refresh a client node; returns its ``HeartbeatTTL`` (seconds)."""
        for value, what in (
            (node.id, "node ID"),
            (node.datacenter, "datacenter"),
            (node.name, "node name"),
        ):
            if not value:
                raise RequestError(f"missing {what} for client registration")
        if node.status not in NODE_STATUSES:
            raise RequestError(f"invalid status {node.status!r} for node {node.id!r}")
        node = node.model_copy(
            update={
                "computed_class": node.compute_class(),
                "node_pool": node.node_pool or "default",
            }
        )
        old = self.state.node_by_id(node.id)
        result = await self._apply(c.node_register(node))
        stored = self._node(node.id)
        evals: list[Any] = []
        became_ready = stored.status == NODE_STATUS_READY and (
            old is None or old.status != NODE_STATUS_READY
        )
        if became_ready:
            evals = self.node_evals(stored, TRIGGER_NODE_UPDATE, system_jobs=True)
            if evals:
                result = {**result, **await self._apply_with_evals(c.eval_upsert(evals), evals)}
        if stored.status == NODE_STATUS_READY:
            self.blocked.unblock(stored.computed_class, result["Index"])
        ttl = 0.0 if stored.status == NODE_STATUS_DOWN else self._reset_heartbeat(node.id)
        return {**self._node_response(result, evals), "HeartbeatTTL": ttl}

    @leader_endpoint
    async def node_update_drivers(self, node_id: str, drivers: dict[str, Any]) -> dict[str, Any]:
        """Replace a node's driver health (``{name: DriverInfo JSON}``); a node whose
        drivers changed may let blocked evaluations place."""
        node = self._node(node_id)
        infos = {
            name: info if isinstance(info, DriverInfo) else DriverInfo.from_api(info)
            for name, info in drivers.items()
        }
        attrs = dict(node.attributes or {})
        for name, info in infos.items():
            key = f"driver.{name}"
            if info.detected and info.healthy:
                attrs[key] = "1"
            else:
                attrs.pop(key, None)
        updated = node.model_copy(update={"drivers": infos, "attributes": attrs})
        updated = updated.model_copy(update={"computed_class": updated.compute_class()})
        result = await self._apply(c.node_register(updated))
        if updated.status == NODE_STATUS_READY:
            self.blocked.unblock(updated.computed_class, result["Index"])
        return {"NodeModifyIndex": result["NodeModifyIndex"], "Index": result["Index"]}

    # ------------------------------------------------------------------ liveness

    @leader_endpoint
    async def node_heartbeat(self, node_id: str) -> dict[str, Any]:
        """A client's heartbeat: re-arms its timer; a node that was down comes back ready."""
        node = self._node(node_id)
        if node.status in (NODE_STATUS_DOWN, NODE_STATUS_DISCONNECTED):
            return await self.node_update_status(node_id, NODE_STATUS_READY)
        ttl = self._reset_heartbeat(node_id)
        return {"HeartbeatTTL": ttl, "Index": self.state.latest_index}

    @leader_endpoint
    async def node_update_status(self, node_id: str, status: str) -> dict[str, Any]:
        """Set a node's status; going ``down`` creates ``node-update`` evaluations so its
        allocations are replaced, becoming ``ready`` lets blocked evaluations place."""
        if status not in NODE_STATUSES:
            raise RequestError(
                f"invalid node status {status!r}: must be one of {', '.join(NODE_STATUSES)}"
            )
        node = self._node(node_id)
        if node.status == status:
            ttl = 0.0 if status == NODE_STATUS_DOWN else self._reset_heartbeat(node_id)
            return {
                "HeartbeatTTL": ttl,
                "EvalIDs": None,
                "EvalCreateIndex": 0,
                "NodeModifyIndex": node.modify_index,
                "Index": self.state.latest_index,
            }
        evals: list[Any] = []
        if status in (NODE_STATUS_DOWN, NODE_STATUS_READY, NODE_STATUS_DISCONNECTED):
            evals = self.node_evals(
                node, TRIGGER_NODE_UPDATE, system_jobs=status == NODE_STATUS_READY
            )
        event = node_event(f"Node status changed to {status}", "Cluster")
        command = c.node_status_update(node_id, status, int(time.time()), event, evals)
        result = await self._apply_with_evals(command, evals)
        if status == NODE_STATUS_READY:
            self.blocked.unblock(node.computed_class, result["Index"])
            ttl = self._reset_heartbeat(node_id)
        else:
            self.heartbeats.clear(node_id)
            ttl = 0.0
        return {**self._node_response(result, evals), "HeartbeatTTL": ttl}

    async def _node_expired(self, node_id: str) -> None:
        node = self.state.node_by_id(node_id)
        if node is None or node.status == NODE_STATUS_DOWN or not self._leader:
            return
        evals = self.node_evals(node, TRIGGER_NODE_UPDATE, system_jobs=False)
        event = node_event("Node heartbeat missed", "Cluster")
        command = c.node_status_update(node_id, NODE_STATUS_DOWN, int(time.time()), event, evals)
        await self._apply_with_evals(command, evals)

    # ------------------------------------------------------------------ drain & eligibility

    @leader_endpoint
    async def node_drain(
        self, node_id: str, drain_spec: dict[str, Any] | None, mark_eligible: bool
    ) -> dict[str, Any]:
        """Start draining a node (``drain_spec``: ``{"Deadline": ns, "IgnoreSystemJobs"}``;
        a negative deadline forces at once, 0 waits forever) or cancel a drain (``None``)."""
        node = self._node(node_id)
        if drain_spec is None:
            if node.drain_strategy is None and not mark_eligible:
                raise RequestError(f"node {node_id!r} is not draining")
            event = node_event("Node drain strategy cancelled", "Drain")
            result = await self._apply(c.node_drain(node_id, None, mark_eligible, event))
            if mark_eligible:
                self.blocked.unblock(node.computed_class, result["Index"])
            return self._node_response(result, [])
        deadline = int(drain_spec.get("Deadline") or 0)
        now = now_ns()
        force_at = None
        if deadline < 0:
            force_at = now
        elif deadline > 0:
            force_at = now + deadline
        strategy = {
            "Deadline": deadline,
            "IgnoreSystemJobs": bool(drain_spec.get("IgnoreSystemJobs", False)),
            "ForceDeadline": _go_time(force_at) if force_at is not None else None,
            "StartedAt": _go_time(now),
        }
        evals = self.node_evals(node, TRIGGER_NODE_DRAIN, system_jobs=False)
        event = node_event("Node drain strategy set", "Drain")
        command = c.node_drain(node_id, strategy, mark_eligible, event, evals)
        result = await self._apply_with_evals(command, evals)
        return self._node_response(result, evals)

    @leader_endpoint
    async def node_eligibility(self, node_id: str, eligibility: str) -> dict[str, Any]:
        """Set whether the scheduler may place new allocations on a node."""
        if eligibility not in (NODE_ELIGIBLE, NODE_INELIGIBLE):
            raise RequestError(
                f"invalid scheduling eligibility {eligibility!r}: "
                f"must be {NODE_ELIGIBLE!r} or {NODE_INELIGIBLE!r}"
            )
        node = self._node(node_id)
        if eligibility == NODE_ELIGIBLE and node.drain_strategy is not None:
            raise RequestError(
                f"can not set node {node_id!r} scheduling eligibility to eligible while draining"
            )
        evals: list[Any] = []
        if eligibility == NODE_ELIGIBLE and node.scheduling_eligibility != NODE_ELIGIBLE:
            evals = self.node_evals(node, TRIGGER_NODE_UPDATE, system_jobs=True)
        event = node_event(f"Node marked as {eligibility} for scheduling", "Cluster")
        command = c.node_eligibility(node_id, eligibility, event, evals)
        result = await self._apply_with_evals(command, evals)
        if eligibility == NODE_ELIGIBLE:
            self.blocked.unblock(node.computed_class, result["Index"])
        return self._node_response(result, evals)

    @leader_endpoint
    async def node_purge(self, node_id: str) -> dict[str, Any]:
        """Remove a node from the state; its jobs are re-evaluated so allocations move."""
        node = self._node(node_id)
        evals = self.node_evals(node, TRIGGER_NODE_UPDATE, system_jobs=False)
        result = await self._apply(c.node_deregister([node_id]))
        self.heartbeats.clear(node_id)
        if evals:
            result = {**result, **await self._apply_with_evals(c.eval_upsert(evals), evals)}
        return self._node_response(result, evals)

    @leader_endpoint
    async def node_evaluate(self, node_id: str) -> dict[str, Any]:
        """Re-evaluate a node (``PUT /v1/node/:id/evaluate``): one ``node-update``
        evaluation per job with live allocations on it and per system job; none when the
        node runs nothing (the answer's ``EvalIDs`` is then ``null``).

        :raises NotFoundError: when the node is unknown.
        """
        node = self._node(node_id)
        evals = self.node_evals(node, TRIGGER_NODE_UPDATE, system_jobs=True)
        if not evals:
            result = {"Index": self.state.latest_index, "NodeModifyIndex": node.modify_index}
            return self._node_response(result, [])
        result = await self._apply_with_evals(c.eval_upsert(evals), evals)
        created = {"NodeModifyIndex": node.modify_index, "EvalCreateIndex": result["Index"]}
        return self._node_response({**created, **result}, evals)


def _go_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
