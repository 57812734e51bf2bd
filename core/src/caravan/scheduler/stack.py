"""The placement stack: the feasibility stages and scorers chained in one place.

:class:`Stack` is built once per evaluation. :meth:`Stack.set_nodes` applies the node-level
stages that do not depend on the task group (readiness, datacenter, node pool) and shuffles
what is left; :meth:`Stack.select` then walks that order, resuming where the previous
placement stopped, runs each node through the group's stages and scorers, and stops once
``limit`` nodes have been scored. The best of those wins. Walking a shuffled order and stopping
early keeps the cost of one placement nearly independent of the cluster's size.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

from caravan.scheduler.affinity import Affinities
from caravan.scheduler.binpack import Fit, assign_ports, fit_score
from caravan.scheduler.context import EvalContext
from caravan.scheduler.feasible.class_cache import ClassFeasibility
from caravan.scheduler.feasible.constraints import compile_constraints, group_constraints
from caravan.scheduler.feasible.datacenter import datacenter_matches
from caravan.scheduler.feasible.distinct_hosts import DistinctHosts
from caravan.scheduler.feasible.distinct_property import DistinctProperty
from caravan.scheduler.feasible.drivers import group_drivers
from caravan.scheduler.feasible.pool import pool_matches
from caravan.scheduler.feasible.ready import node_ready
from caravan.scheduler.metrics import MAX_SCORE_META, PlacementMetrics
from caravan.scheduler.rank import (
    RESCHEDULE_PENALTY,
    SCORE_AFFINITY,
    SCORE_ANTI_AFFINITY,
    SCORE_BINPACK,
    SCORE_RESCHEDULE,
    SCORE_SPREAD,
    anti_affinity_penalty,
)
from caravan.scheduler.resources import GroupAsk, NodeUsage, group_ask
from caravan.scheduler.spread import Spreads

#: Candidates scored per placement for batch jobs ("power of two choices").
BATCH_LIMIT = 2
#: Candidates scored when a group has spreads or affinities (Nomad's default
#: ``node_limit_for_feasibility_checks``).
SPREAD_AFFINITY_LIMIT = 100
#: Nodes scoring at or below ``SKIP_THRESHOLD`` set aside (used only if too few others fit).
MAX_SKIP = 3
SKIP_THRESHOLD = 0.0


class _UsableNodes:
    """The ready nodes of a datacenter list and node pool, remembered while the node list is
    unchanged: every evaluation of a large cluster would otherwise filter every node again.

    Shared by the scheduler threads of a process; a race only computes the same list twice.
    """

    def __init__(self) -> None:
        self._nodes: list[Any] = []
        self._usable: dict[tuple[tuple[str, ...], str | None], tuple[Any, ...]] = {}

    def usable(
        self, nodes: list[Any], datacenters: tuple[str, ...], pool: str | None
    ) -> tuple[Any, ...]:
        """The nodes of ``nodes`` (in order) that are ready and in ``datacenters`` and ``pool``."""
        key = (datacenters, pool)
        known, usable = self._nodes, self._usable
        # Node objects are replaced, never changed, so an element-wise identity match (what
        # list equality checks first) means the same nodes in the same state.
        if len(known) != len(nodes) or not all(map(operator.is_, known, nodes)):
            self._nodes, self._usable = list(nodes), {}
            usable = self._usable
        found = usable.get(key)
        if found is None:
            found = usable[key] = tuple(
                n
                for n in nodes
                if node_ready(n)
                and datacenter_matches(n.datacenter, list(datacenters))
                and pool_matches(n.node_pool, pool)
            )
        return found


_READY = _UsableNodes()


@dataclass(slots=True)
class Selection:
    """The node chosen for one placement, its ports and usage, and the placement's metrics."""

    node: Any
    score: float
    fit: Fit
    metrics: PlacementMetrics


@dataclass(slots=True)
class _GroupStages:
    ask: GroupAsk
    classes: ClassFeasibility
    distinct_hosts: DistinctHosts
    distinct_property: DistinctProperty
    affinities: Affinities
    spreads: Spreads
    count: int
    # (the node list it was computed for, candidates scored per placement)
    limit: tuple[list[Any], int] | None = None


class Stack:
    """Feasibility and ranking for one evaluation of one job.

    ``system=True`` is the system scheduler's stack: no shuffle and no limit, since it asks
    about specific nodes (:meth:`select` with ``nodes``).
    """

    def __init__(self, ctx: EvalContext, job: Any, *, batch: bool, system: bool = False) -> None:
        self.ctx = ctx
        self.job = job
        self.batch = batch
        self.system = system
        self.nodes: list[Any] = []
        self.nodes_available: dict[str, int] = {}
        self._offset = 0
        self._groups: dict[str, _GroupStages] = {}
        self._class_of: dict[str, str] = {}
        # (node ID, score parts) -> ScoreMetaData entry: a node scored alike for several
        # placements shares one entry (and, once built, one model object).
        self._meta_entries: dict[tuple[str, tuple[float | None, ...]], Any] = {}
        self._score_parts: dict[tuple[float | None, ...], dict[str, float]] = {}

    def set_nodes(self, nodes: list[Any]) -> None:
        """Keep the nodes this job may use at all, and shuffle them with the injected RNG.

        Readiness comes first because down, ineligible and draining nodes never take new
        work; datacenter and pool are cheap string checks that remove whole regions of the
        cluster before any per-group work.
        """
        job = self.job
        ready = list(_READY.usable(nodes, tuple(job.datacenters or ()), job.node_pool))
        self.nodes_available = {}
        for n in ready:
            self.nodes_available[n.datacenter] = self.nodes_available.get(n.datacenter, 0) + 1
        if not self.system:
            # A random order makes concurrent schedulers collide less and spreads batch jobs.
            self.ctx.rng.shuffle(ready)
        self.nodes = ready
        self._offset = 0

    def _stages(self, tg: Any) -> _GroupStages:
        stages = self._groups.get(tg.name)
        if stages is None:
            constraints = compile_constraints(group_constraints(self.job, tg))
            stages = _GroupStages(
                ask=group_ask(tg),
                # Drivers before constraints: a missing driver is the commonest reason and
                # the cheapest check; both are memoised per computed class.
                classes=ClassFeasibility(group_drivers(tg), constraints, self._class_of),
                # distinct_* depend on where the job's allocations are, so they run after the
                # class-memoised checks and are evaluated per node.
                distinct_hosts=DistinctHosts(self.job, tg),
                distinct_property=DistinctProperty(self.job, tg),
                affinities=Affinities(self.job, tg),
                spreads=Spreads(self.job, tg),
                count=tg.count or 0,
            )
            self._groups[tg.name] = stages
        return stages

    def class_eligibility(self) -> tuple[dict[str, bool], bool]:
        """The computed classes seen, each eligible if any group could use it, and whether any
        group has constraints that escape the class (blocked evaluations are released by these).
        """
        eligible: dict[str, bool] = {}
        escaped = False
        for stages in self._groups.values():
            escaped = escaped or stages.classes.escaped
            for cls, ok in stages.classes.verdicts().items():
                eligible[cls] = eligible.get(cls, False) or ok
        return eligible, escaped

    def ask_of(self, tg: Any) -> GroupAsk:
        """The summed resource ask of ``tg``."""
        return self._stages(tg).ask

    def infeasible_reason(self, tg: Any, node: Any) -> str | None:
        """Why ``node`` can never run ``tg`` (drivers, constraints), ignoring its free room."""
        return self._stages(tg).classes.check(node)

    def limit_for(self, tg: Any) -> int:
        """How many feasible nodes are scored for one placement of ``tg``."""
        stages = self._stages(tg)
        if stages.limit is None or stages.limit[0] is not self.nodes:
            stages.limit = (self.nodes, self._limit(stages))
        return stages.limit[1]

    def _limit(self, stages: _GroupStages) -> int:
        if self.system:
            return 1
        if stages.affinities.active or stages.spreads.active:
            return max(stages.count, SPREAD_AFFINITY_LIMIT)
        if self.batch:
            return BATCH_LIMIT
        n = len(self.nodes)
        return max(BATCH_LIMIT, math.ceil(math.log2(n))) if n > 1 else BATCH_LIMIT

    def select(
        self,
        tg: Any,
        penalty_nodes: frozenset[str] | set[str] = frozenset(),
        nodes: list[Any] | None = None,
    ) -> Selection | None:
        """Pick the best node for one instance of ``tg``; ``None`` when nothing fits.

        ``penalty_nodes`` are nodes where the allocation being replaced failed. ``nodes``
        restricts the choice to the given nodes, walked in order (the system scheduler).
        Either way the attempt's :class:`PlacementMetrics` end up in ``ctx.metrics``.
        """
        ctx = self.ctx
        stages = self._stages(tg)
        metrics = ctx.metrics = PlacementMetrics(self.nodes_available)
        if nodes is None:
            order, rotate = self.nodes, True
        else:
            order, rotate = nodes, False
        total = len(order)
        limit = len(order) if nodes is not None else self.limit_for(tg)
        # Every scored node as (final, node, usage, score parts); only the best few get their
        # score breakdown built as a dict, once the walk is over.
        scored: list[tuple[float, Any, NodeUsage, tuple[float | None, ...]]] = []
        best: tuple[float, Any, NodeUsage, tuple[float | None, ...]] | None = None
        skipped: list[tuple[float, Any, NodeUsage, tuple[float | None, ...]]] = []
        found = 0
        offset = self._offset if rotate else 0
        group = tg.name
        # Bound once: this loop runs for every candidate of every placement.
        ask = stages.ask
        desired = stages.count
        class_check = stages.classes.check
        distinct_hosts = stages.distinct_hosts if stages.distinct_hosts.active else None
        distinct_property = stages.distinct_property if stages.distinct_property.active else None
        affinities = stages.affinities if stages.affinities.active else None
        spreads = stages.spreads if stages.spreads.active else None
        counts_by_node = ctx.counts_by_node
        cached_usage = ctx.cached_usage
        node_usage = ctx.node_usage
        may_skip = not self.system
        evaluated = 0
        while evaluated < total and found < limit:
            node = order[offset]
            offset += 1
            if offset == total:
                offset = 0
            evaluated += 1
            reason = class_check(node)
            node_id = node.id
            counts = counts_by_node.get(node_id)
            if reason is None and distinct_hosts is not None:
                reason = distinct_hosts.check(counts or {})
            if reason is None and distinct_property is not None:
                reason = distinct_property.check(ctx, node)
            if reason is not None:
                metrics.filter_node(node, reason)
                continue
            usage = cached_usage.get(node_id)
            if usage is None:
                usage = node_usage(node)
            binpack = fit_score(ask, usage)
            if binpack.__class__ is str:
                metrics.exhaust_node(node, binpack)
                continue
            total_score, parts = binpack, 1
            anti = resched = affinity = spread = None
            collisions = counts.get(group, 0) if counts else 0
            if collisions:
                anti = anti_affinity_penalty(collisions, desired)
                total_score += anti
                parts += 1
            if node_id in penalty_nodes:
                resched = RESCHEDULE_PENALTY
                total_score += resched
                parts += 1
            if affinities is not None:
                affinity = affinities.score(node) or None
                if affinity is not None:
                    total_score += affinity
                    parts += 1
            if spreads is not None:
                spread = spreads.score(ctx, node) or None
                if spread is not None:
                    total_score += spread
                    parts += 1
            # The mean of the scores present: a stage with nothing to say does not dilute.
            final = total_score / parts if parts > 1 else total_score
            entry = (final, node, usage, (binpack, anti, resched, affinity, spread))
            scored.append(entry)
            if final <= SKIP_THRESHOLD and may_skip and len(skipped) < MAX_SKIP:
                skipped.append(entry)
                continue
            found += 1
            if best is None or final > best[0]:
                best = entry
        metrics.nodes_evaluated = evaluated
        if rotate:
            self._offset = offset
        metrics.score_meta = self._score_meta(scored)
        if found < limit:
            for cand in skipped:
                if best is None or cand[0] > best[0]:
                    best = cand
        if best is None:
            return None
        final, node, usage, _ = best
        return Selection(node, final, assign_ports(ask, usage, ctx.rng), metrics)

    def _score_meta(
        self, scored: list[tuple[float, Any, NodeUsage, tuple[float | None, ...]]]
    ) -> list[tuple[str, dict[str, float], float]]:
        """The best :data:`MAX_SCORE_META` scored nodes, best first (ties in walk order), each
        with its score breakdown: Nomad's ``ScoreMetaData``."""
        if len(scored) > 1:
            # Stable even reversed: equal scores stay in walk order.
            scored = sorted(scored, key=operator.itemgetter(0), reverse=True)[:MAX_SCORE_META]
        entries = self._meta_entries
        out = []
        for final, node, _, parts in scored:
            key = (node.id, parts)
            entry = entries.get(key)
            if entry is None:
                # Nodes of one size with the same usage score alike: one breakdown for all.
                scores = self._score_parts.get(parts)
                if scores is None:
                    scores = self._score_parts[parts] = {
                        name: p
                        for name, p in zip(_SCORE_NAMES, parts, strict=True)
                        if p is not None
                    }
                entry = entries[key] = (node.id, scores, final)
            out.append(entry)
        return out


_SCORE_NAMES = (SCORE_BINPACK, SCORE_ANTI_AFFINITY, SCORE_RESCHEDULE, SCORE_AFFINITY, SCORE_SPREAD)
