"""The working state of one evaluation: snapshot, plan in progress, proposed usage, metrics.

Everything the placement stages need to know about "what would the cluster look like if this
plan were applied" lives here, kept up to date incrementally: per-node resource usage (built
lazily, the first time a node is considered, from the state's per-node totals when it keeps
them), and where the job's live allocations are.
All changes to the plan go through :meth:`EvalContext.stop`, :meth:`EvalContext.place` and
:meth:`EvalContext.update_in_place` so those views never drift from the plan.
"""

from __future__ import annotations

import random
from typing import Any

from caravan.scheduler.feasible.targets import resolve_target
from caravan.scheduler.metrics import PlacementMetrics
from caravan.scheduler.planner import Plan
from caravan.scheduler.resources import (
    CAPACITIES,
    NodeUsage,
    Usage,
    alloc_terminal,
    alloc_usage,
)
from caravan.scheduler.state import SchedulerState

#: Allocations whose usage a scheduler remembers across evaluations before starting over.
USAGE_MEMO_LIMIT = 2_000_000


class EvalContext:
    """Per-evaluation scratch space shared by the stack and the scheduler.

    ``usage_memo`` maps allocation IDs to their :class:`Usage`; a long-lived scheduler passes
    the same dict to every evaluation so an allocation's resources are read from the model once.
    """

    def __init__(
        self,
        state: SchedulerState,
        plan: Plan,
        rng: random.Random,
        job: Any | None,
        usage_memo: dict[str, Usage] | None = None,
    ) -> None:
        self.state = state
        self.plan = plan
        self.rng = rng
        self.job = job
        self.metrics = PlacementMetrics()
        self._memo = usage_memo if usage_memo is not None else {}
        if len(self._memo) > USAGE_MEMO_LIMIT:
            # Bound the memory a long-lived scheduler spends remembering allocations.
            self._memo.clear()
        self._usage: dict[str, NodeUsage] = {}
        # Nodes whose entry in _usage is this evaluation's own copy (the others are shared).
        self._owned: set[str] = set()
        #: Node ID -> usage of the nodes already looked at (read-only; see :meth:`node_usage`).
        self.cached_usage = self._usage
        # A state that keeps per-node totals (the state store's snapshots) answers in O(1).
        self._node_held = getattr(state, "node_held", None)
        self._held_entry = CAPACITIES.held_entry
        self._stopping: set[str] = set()
        # node ID -> usage of the live allocations the plan stops there
        self._released: dict[str, list[Usage]] = {}
        self._placed: dict[str, list[Usage]] = {}
        # Nodes where the plan released or placed something (the keys of both).
        self._touched: set[str] = set()
        #: Node ID -> {group: how many of the job's live proposed allocations are there}
        #: (read-only; nodes without any are absent).
        self.counts_by_node: dict[str, dict[str, int]] = {}
        # Memos of facts about single nodes, forgotten for a node when the plan changes it.
        self._node_memos: list[dict[str, Any]] = []
        # allocation ID -> (node, group) for the job's live proposed allocations
        self._job_allocs: dict[str, tuple[Any, str]] = {}
        self._prop_counts: dict[tuple[str, str | None], dict[str, int]] = {}
        if job is not None:
            for alloc in state.allocs_by_job(job.namespace, job.id):
                if not alloc_terminal(alloc):
                    node = state.node_by_id(alloc.node_id)
                    if node is not None:
                        self._track(alloc.id, node, alloc.task_group, 1)

    # ------------------------------------------------------------------ usage

    def usage_of(self, alloc: Any) -> Usage:
        """The resources ``alloc`` holds (memoised by allocation ID)."""
        usage = self._memo.get(alloc.id)
        if usage is None:
            usage = self._memo[alloc.id] = alloc_usage(alloc)
        return usage

    def node_usage(self, node: Any) -> NodeUsage:
        """``node``'s capacity and proposed usage under the plan so far (read-only: the plan
        changes it through :meth:`place`, :meth:`stop` and :meth:`unstop`)."""
        node_id = node.id
        usage = self._usage.get(node_id)
        if usage is not None:
            return usage
        return self.load_usage(node_id, node)

    def load_usage(self, node_id: str, node: Any) -> NodeUsage:
        """:meth:`node_usage` of a node not looked at yet in this evaluation (callers that
        just missed :attr:`cached_usage` call this directly)."""
        node_held = self._node_held
        if node_held is not None and node_id not in self._touched:
            # The common case: the plan has not touched the node, so its usage is the shared
            # one for its current object and total.
            held = node_held(node_id)
            hit = self._held_entry(node_id)
            if hit is not None and hit[0] is node and hit[1] is held:
                usage = hit[2]
            else:
                usage = CAPACITIES.with_held(node, held)
            self._usage[node_id] = usage
            return usage
        if node_held is not None:
            usage = CAPACITIES.with_held(node, node_held(node_id)).copy()
            for released in self._released.get(node_id, ()):
                usage.remove(released)
        else:
            usage = CAPACITIES.capacity(node)
            for alloc in self.state.allocs_by_node(node_id):
                if alloc.id not in self._stopping and not alloc_terminal(alloc):
                    usage.add(self.usage_of(alloc))
        for placed in self._placed.get(node_id, ()):
            usage.add(placed)
        self._owned.add(node_id)
        self._usage[node_id] = usage
        return usage

    def _writable(self, node_id: str) -> NodeUsage | None:
        # Most nodes an evaluation looks at are only read: they keep the shared usage of
        # CAPACITIES.with_held until the plan changes something on them.
        usage = self._usage.get(node_id)
        if usage is not None and node_id not in self._owned:
            usage = self._usage[node_id] = usage.copy()
            self._owned.add(node_id)
        return usage

    def node_memo(self) -> dict[str, Any]:
        """A new dict, node ID -> anything derived from that node's usage and the job's
        allocations on it; an entry is dropped whenever the plan changes that node."""
        memo: dict[str, Any] = {}
        self._node_memos.append(memo)
        return memo

    def _node_changed(self, node_id: str) -> None:
        for memo in self._node_memos:
            memo.pop(node_id, None)

    # ------------------------------------------------------------------ plan changes

    def stop(self, alloc: Any, description: str, client_status: str | None = None) -> None:
        """Add a stop of ``alloc`` to the plan and release what it holds."""
        if alloc.id in self._stopping:
            return
        self.plan.append_stop(alloc, description, client_status)
        self._stopping.add(alloc.id)
        if alloc_terminal(alloc):
            return
        self._node_changed(alloc.node_id)
        held = self.usage_of(alloc)
        self._released.setdefault(alloc.node_id, []).append(held)
        self._touched.add(alloc.node_id)
        usage = self._writable(alloc.node_id)
        if usage is not None:
            usage.remove(held)
        tracked = self._job_allocs.get(alloc.id)
        if tracked is not None:
            self._track(alloc.id, tracked[0], tracked[1], -1)

    def unstop(self, alloc: Any) -> None:
        """Undo :meth:`stop` of a live ``alloc``: it keeps running and holding its resources."""
        if alloc.id not in self._stopping:
            return
        self.plan.pop_stop(alloc)
        self._stopping.discard(alloc.id)
        self._node_changed(alloc.node_id)
        released = self._released.get(alloc.node_id)
        if released:
            held = self.usage_of(alloc)
            released.remove(held)
            usage = self._writable(alloc.node_id)
            if usage is not None:
                usage.add(held)
        node = self.state.node_by_id(alloc.node_id)
        if node is not None:
            self._track(alloc.id, node, alloc.task_group, 1)

    def place(self, alloc: Any, node: Any, usage: Usage) -> None:
        """Add a new allocation on ``node`` to the plan and count what it holds."""
        self.plan.append_alloc(alloc)
        node_id = node.id
        for memo in self._node_memos:
            memo.pop(node_id, None)
        alloc_id = alloc.id
        self._memo[alloc_id] = usage
        placed = self._placed.get(node_id)
        if placed is None:
            self._placed[node_id] = [usage]
            self._touched.add(node_id)
        else:
            placed.append(usage)
        cached = self._writable(node_id)
        if cached is not None:
            cached.add(usage)
        self._track(alloc_id, node, alloc.task_group, 1)

    def update_in_place(self, alloc: Any) -> None:
        """Add an in-place update (same node, same resources) to the plan."""
        self.plan.append_alloc(alloc)

    # ------------------------------------------------------------------ job placement views

    def _track(self, alloc_id: str, node: Any, group: str, delta: int) -> None:
        counts = self.counts_by_node.setdefault(node.id, {})
        counts[group] = counts.get(group, 0) + delta
        if delta > 0:
            self._job_allocs[alloc_id] = (node, group)
        else:
            self._job_allocs.pop(alloc_id, None)
        for (target, only_group), values in self._prop_counts.items():
            if only_group is not None and only_group != group:
                continue
            value, found = resolve_target(target, node)
            if found:
                values[value] = values.get(value, 0) + delta  # type: ignore[index]

    def property_counts(self, target: str, group: str | None) -> dict[str, int]:
        """How many of the job's live proposed allocations (of ``group``, or of any group when
        ``None``) sit on nodes with each value of ``target`` (such as ``${meta.rack}``)."""
        key = (target, group)
        values = self._prop_counts.get(key)
        if values is None:
            values = self._prop_counts[key] = {}
            for node, alloc_group in self._job_allocs.values():
                if group is not None and alloc_group != group:
                    continue
                value, found = resolve_target(target, node)
                if found:
                    values[value] = values.get(value, 0) + 1  # type: ignore[index]
        return values
