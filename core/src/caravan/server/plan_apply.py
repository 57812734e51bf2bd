"""The plan applier: the leader's single point where scheduler plans become state.

Workers plan in parallel against snapshots that may already be stale (optimistic
concurrency). Each plan waits in a priority queue; the applier takes them one at a time and
re-checks every node the plan touches against the *newest* state:

* stops always apply;
* placements need the node to exist, be ``ready`` and, for new allocations, eligible and not
  draining;
* everything the node would then run (its live allocations, minus the plan's stops, plus the
  plan's placements) must fit its CPU, memory and disk, with no port used twice.

The nodes that pass are committed through Raft as one ``PlanApply`` command; the others are
left out and the :class:`PlanResult` carries a ``refresh_index`` so the scheduler re-plans them
against a newer snapshot. An ``AllAtOnce`` job's plan commits entirely or not at all.

Summing a node's live allocations for every plan would cost O(allocations per node); the
applier remembers each node's committed usage together with the node's allocation set it was
computed from, and recomputes only when that set changed behind its back.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from caravan.scheduler.planner import Plan, PlanResult
from caravan.scheduler.resources import (
    CAPACITIES,
    NodeUsage,
    alloc_terminal,
    alloc_usage,
)
from caravan.state import StateSnapshot, StateStore
from caravan.state import commands as c

_NODE_ALLOCS_INDEX = "allocs.node"


@dataclass
class _Cached:
    members: Any
    modify_index: int
    usage: NodeUsage


@dataclass
class NodeVerdict:
    """Why a node of a plan was refused (for logs and tests)."""

    node_id: str
    reason: str


@dataclass
class _Queued:
    plan: Plan
    future: asyncio.Future[PlanResult]
    refused: list[NodeVerdict] = field(default_factory=list)


class PlanApplier:
    """Checks and commits plans in priority order. ``apply`` proposes a command to Raft and
    returns the FSM's result (raising on rejection)."""

    def __init__(self, state: StateStore, apply: Callable[[bytes], Awaitable[Any]]) -> None:
        self.state = state
        self.apply = apply
        self._queue: asyncio.PriorityQueue[tuple[int, int, _Queued]] = asyncio.PriorityQueue()
        self._seq = itertools.count()
        self._usage: dict[str, _Cached] = {}
        # Bumped by every invalidation, so a commit racing one does not cache stale usage.
        self._generation = 0
        self.refusals: list[NodeVerdict] = []

    async def submit(self, plan: Plan) -> PlanResult:
        """Queue ``plan`` and wait for what was committed of it."""
        future: asyncio.Future[PlanResult] = asyncio.get_running_loop().create_future()
        await self._queue.put((-plan.priority, next(self._seq), _Queued(plan, future)))
        return await future

    async def run(self) -> None:
        """Apply queued plans until cancelled (the leader's plan loop)."""
        while True:
            _, _, item = await self._queue.get()
            if item.future.done():
                continue
            try:
                result = await self._apply_one(item.plan)
            except Exception as err:
                # The worker receives the error and nacks its evaluation.
                if not item.future.done():
                    item.future.set_exception(err)
                continue
            if not item.future.done():
                item.future.set_result(result)

    def invalidate(self, node_ids: Iterable[str] | None = None) -> None:
        """Forget cached usage of ``node_ids`` (all nodes when ``None``): allocations there
        changed in a way the node's allocation set does not show (a client reported them done)."""
        self._generation += 1
        if node_ids is None:
            self._usage.clear()
            return
        for node_id in node_ids:
            self._usage.pop(node_id, None)

    # ------------------------------------------------------------------ evaluation

    def _committed(self, snap: StateSnapshot, node: Any) -> NodeUsage:
        members = snap.data.indexes[_NODE_ALLOCS_INDEX].get(node.id)
        cached = self._usage.get(node.id)
        if (
            cached is not None
            and cached.members is members
            and cached.modify_index == node.modify_index
        ):
            return cached.usage.copy()
        usage = CAPACITIES.capacity(node)
        for alloc in snap.allocs_by_node(node.id):
            if not alloc_terminal(alloc):
                usage.add(alloc_usage(alloc))
        self._usage[node.id] = _Cached(members, node.modify_index, usage)
        return usage.copy()

    def evaluate_node(
        self, snap: StateSnapshot, plan: Plan, node_id: str
    ) -> tuple[str, NodeUsage | None]:
        """``("", usage after the plan)`` when ``plan`` fits ``node_id`` in ``snap``, else
        ``(reason, None)``."""
        placing = plan.node_allocation.get(node_id) or []
        if not placing:
            return "", None
        node = snap.node_by_id(node_id)
        if node is None:
            return "node does not exist", None
        if node.status != "ready":
            return f"node is {node.status}", None
        usage = self._committed(snap, node)
        for stop in plan.node_update.get(node_id) or ():
            current = snap.alloc_by_id(stop.id)
            if current is not None and not alloc_terminal(current):
                usage.remove(alloc_usage(current))
        ports: set[int] = set()
        for alloc in placing:
            current = snap.alloc_by_id(alloc.id)
            if current is None or current.node_id != node_id:
                if node.drain_strategy is not None:
                    return "node is draining", None
                if node.scheduling_eligibility != "eligible":
                    return "node is not eligible", None
            elif not alloc_terminal(current):
                usage.remove(alloc_usage(current))
            new = alloc_usage(alloc)
            if ports.intersection(new.ports) or usage.used_ports.intersection(new.ports):
                return "port collision", None
            ports.update(new.ports)
            usage.add(new)
        for dim, used, total in (
            ("cpu", usage.used_cpu, usage.cpu),
            ("memory", usage.used_memory_mb, usage.memory_mb),
            ("disk", usage.used_disk_mb, usage.disk_mb),
        ):
            if used > total:
                return f"{dim} exhausted", None
        return "", usage

    # ------------------------------------------------------------------ commit

    async def _apply_one(self, plan: Plan) -> PlanResult:
        snap = self.state.snapshot()
        generation = self._generation
        result = PlanResult()
        fitted: dict[str, NodeUsage] = {}
        refused = False
        for node_id in plan.node_update.keys() | plan.node_allocation.keys():
            reason, usage = self.evaluate_node(snap, plan, node_id)
            if reason:
                refused = True
                self.refusals.append(NodeVerdict(node_id, reason))
                continue
            if usage is not None:
                fitted[node_id] = usage
            if plan.node_update.get(node_id):
                result.node_update[node_id] = plan.node_update[node_id]
            if plan.node_allocation.get(node_id):
                result.node_allocation[node_id] = plan.node_allocation[node_id]
        if refused and plan.all_at_once:
            result = PlanResult()
            fitted = {}
        if refused:
            result.refresh_index = snap.index
        if not result.node_update and not result.node_allocation and refused:
            return result
        out = await self.apply(self._command(plan, result))
        result.alloc_index = out["AllocIndex"]
        result.deployment = plan.deployment
        result.deployment_updates = list(plan.deployment_updates)
        if generation == self._generation:
            self._remember(fitted, result)
        else:
            self.invalidate(fitted.keys() | result.node_update.keys())
        return result

    def _command(self, plan: Plan, result: PlanResult) -> bytes:
        stopped = [
            {
                "ID": a.id,
                "DesiredDescription": a.desired_description,
                "ClientStatus": a.client_status if a.client_status in ("lost", "unknown") else "",
            }
            for allocs in result.node_update.values()
            for a in allocs
        ]
        updates = [
            {
                "DeploymentID": u.deployment_id,
                "Status": u.status,
                "StatusDescription": u.status_description,
            }
            for u in plan.deployment_updates
        ]
        placed = [a for allocs in result.node_allocation.values() for a in allocs]
        return c.plan_apply(
            plan.job,
            allocs=placed,
            stopped=stopped,
            deployment=plan.deployment,
            deployment_updates=updates,
            eval_id=plan.eval_id,
        )

    def _remember(self, fitted: dict[str, NodeUsage], result: PlanResult) -> None:
        snap = self.state.snapshot()
        index = snap.data.indexes[_NODE_ALLOCS_INDEX]
        for node_id, usage in fitted.items():
            node = snap.node_by_id(node_id)
            if node is None:
                continue
            self._usage[node_id] = _Cached(index.get(node_id), node.modify_index, usage)
        for node_id in result.node_update.keys() - fitted.keys():
            self._usage.pop(node_id, None)
