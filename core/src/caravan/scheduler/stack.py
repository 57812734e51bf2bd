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
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from caravan.scheduler.affinity import Affinities
from caravan.scheduler.binpack import Fit, assign_ports, fit_scorer, fixed_fit
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
#: Asks whose fit one node usage remembers at most (see ``NodeUsage.memo``).
FIT_MEMO_LIMIT = 16


def shuffle(items: list[Any], rng: random.Random) -> None:
    """Shuffle ``items`` in place exactly as ``rng.shuffle`` does: the same draws, so the same
    order (a ``random.Random`` subclass is left to its own ``shuffle``).

    Every evaluation shuffles the whole node list, so the draw loop is inlined: the bit
    length of each bound is shared by a whole run of bounds.
    """
    if type(rng) is not random.Random:
        rng.shuffle(items)
        return
    getrandbits = rng.getrandbits
    top = len(items) - 1
    while top > 0:
        bits = (top + 1).bit_length()
        low = 1 << (bits - 1)  # the smallest bound, i + 1, drawn with this many bits
        for i in range(top, low - 2, -1):
            j = getrandbits(bits)
            while j > i:
                j = getrandbits(bits)
            items[i], items[j] = items[j], items[i]
        top = low - 2


class _UsableNodes:
    """The ready nodes of a datacenter list and node pool, and how many each datacenter has,
    remembered while the node list is unchanged: every evaluation of a large cluster would
    otherwise filter and count every node again.

    Shared by the scheduler threads of a process; a race only computes the same list twice.
    """

    def __init__(self) -> None:
        self._nodes: list[Any] = []
        self._usable: dict[
            tuple[tuple[str, ...], str | None],
            tuple[tuple[tuple[str, Any], ...], dict[str, int]],
        ] = {}

    def usable(
        self, nodes: list[Any], datacenters: tuple[str, ...], pool: str | None
    ) -> tuple[tuple[tuple[str, Any], ...], dict[str, int]]:
        """The nodes of ``nodes`` (in order) that are ready and in ``datacenters`` and
        ``pool``, each as ``(node ID, node)``, and their count per datacenter (shared: never
        change it)."""
        key = (datacenters, pool)
        known, usable = self._nodes, self._usable
        # Node objects are replaced, never changed, so an element-wise identity match (what
        # list equality checks first) means the same nodes in the same state.
        if len(known) != len(nodes) or not all(map(operator.is_, known, nodes)):
            self._nodes, self._usable = list(nodes), {}
            usable = self._usable
        found = usable.get(key)
        if found is None:
            ready = tuple(
                n
                for n in nodes
                if node_ready(n)
                and datacenter_matches(n.datacenter, list(datacenters))
                and pool_matches(n.node_pool, pool)
            )
            available: dict[str, int] = {}
            for n in ready:
                available[n.datacenter] = available.get(n.datacenter, 0) + 1
            found = usable[key] = (tuple((n.id, n) for n in ready), available)
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
    fit_score: Callable[[NodeUsage], float | str]
    classes: ClassFeasibility
    distinct_hosts: DistinctHosts
    distinct_property: DistinctProperty
    affinities: Affinities
    spreads: Spreads
    count: int
    # Fit of a group without ports: the same for every node, so shared by its placements.
    fixed_fit: Fit | None
    # (the walk order it was computed for, candidates scored per placement)
    limit: tuple[list[tuple[str, Any]], int] | None = None


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
        self.nodes_available: dict[str, int] = {}
        # The nodes in walk order as (node ID, node), and that list twice over, so a walk
        # resuming at any offset reads one slice (see select).
        self._order: list[tuple[str, Any]] = []
        self._twice: list[tuple[str, Any]] = []
        self._nodes: list[Any] | None = []
        self._offset = 0
        self._groups: dict[str, _GroupStages] = {}
        # group -> (its assessor, its memo of verdicts by node ID or None, its stages): see
        # select
        self._judges: dict[
            str, tuple[Callable[..., _Verdict], dict[str, _Verdict] | None, _GroupStages]
        ] = {}
        self._class_of: dict[str, str] = {}
        # node ID -> (score parts, ScoreMetaData entry) of its latest score: a node scored
        # alike for several placements shares one entry (and, once built, one model object).
        self._meta_entries: dict[str, tuple[tuple[float | None, ...], Any]] = {}
        # Score breakdowns shared by nodes that scored alike: by parts, and by the bin-packing
        # score of nodes scored by bin packing alone.
        self._score_parts: dict[tuple[float | None, ...], dict[str, float]] = {}
        self._plain_scores: dict[float, dict[str, float]] = {}

    def set_nodes(self, nodes: list[Any]) -> None:
        """Keep the nodes this job may use at all, and shuffle them with the injected RNG.

        Readiness comes first because down, ineligible and draining nodes never take new
        work; datacenter and pool are cheap string checks that remove whole regions of the
        cluster before any per-group work.
        """
        job = self.job
        usable, self.nodes_available = _READY.usable(
            nodes, tuple(job.datacenters or ()), job.node_pool
        )
        order = list(usable)
        if not self.system:
            # A random order makes concurrent schedulers collide less and spreads batch jobs.
            shuffle(order, self.ctx.rng)
        self._order = order
        self._twice = order + order
        self._nodes = None
        self._offset = 0

    @property
    def nodes(self) -> list[Any]:
        """The nodes this job may use, in the order placements walk them (read-only)."""
        if self._nodes is None:
            self._nodes = [node for _, node in self._order]
        return self._nodes

    def _stages(self, tg: Any) -> _GroupStages:
        stages = self._groups.get(tg.name)
        if stages is None:
            constraints = compile_constraints(group_constraints(self.job, tg))
            ask = group_ask(tg)
            stages = _GroupStages(
                ask=ask,
                fit_score=fit_scorer(ask),
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
                fixed_fit=fixed_fit(ask),
            )
            memo = None
            if not stages.spreads.active and not stages.distinct_property.active:
                memo = self.ctx.node_memo()
            self._judges[tg.name] = (self._assessor(stages, tg.name), memo, stages)
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
        if stages.limit is None or stages.limit[0] is not self._order:
            stages.limit = (self._order, self._limit(stages))
        return stages.limit[1]

    def _limit(self, stages: _GroupStages) -> int:
        if self.system:
            return 1
        if stages.affinities.active or stages.spreads.active:
            return max(stages.count, SPREAD_AFFINITY_LIMIT)
        if self.batch:
            return BATCH_LIMIT
        n = len(self._order)
        return max(BATCH_LIMIT, math.ceil(math.log2(n))) if n > 1 else BATCH_LIMIT

    def _assessor(self, stages: _GroupStages, group: str) -> Callable[..., _Verdict]:
        """The function judging one node for one placement of a group: ``(node ID, node,
        penalty_nodes) -> verdict``, a :data:`_Verdict` (rejected or scored)."""
        ctx = self.ctx
        fit_score = stages.fit_score
        desired = stages.count
        classes = stages.classes
        class_check = classes.check
        # Class verdicts are read straight from the memo unless a constraint escapes the
        # class (then every node is checked on its own).
        known = None if classes.escaped else classes.known
        distinct_hosts = stages.distinct_hosts if stages.distinct_hosts.active else None
        distinct_property = stages.distinct_property if stages.distinct_property.active else None
        affinities = stages.affinities if stages.affinities.active else None
        spreads = stages.spreads if stages.spreads.active else None
        counts_of = ctx.counts_by_node.get
        usage_of = ctx.cached_usage.get
        load_usage = ctx.load_usage
        # Bin-packing-only breakdowns by score: nodes of one size and usage share one.
        plain_scores = self._plain_scores
        plain_score = plain_scores.get
        # A node's verdict by bin packing alone depends on its usage and the ask only, so it
        # is remembered in the usage (shared by every evaluation while the node and what it
        # holds are unchanged) under the ask; an ask with ports or bandwidth is not (its fit
        # depends on more than these numbers).
        ask = stages.ask
        fit_key = (
            None
            if ask.mbits or ask.static_ports or ask.dynamic_ports
            # A string (its hash is kept), the same object for every evaluation.
            else sys.intern(f"fit:{ask.cpu}/{ask.memory_mb}/{ask.disk_mb}")
        )
        # Not a bound method: the stack holds this function, which must not hold the stack
        # (a cycle would keep each evaluation's memos alive until a full collection).
        meta_entries, score_parts = self._meta_entries, self._score_parts

        def assess(node_id: str, node: Any, penalty_nodes: frozenset[str] | set[str]) -> _Verdict:
            if known is None:
                reason = class_check(node)
            else:
                reason = known.get(node.computed_class, _UNSEEN)
                if reason is _UNSEEN:
                    reason = class_check(node)
            counts = counts_of(node_id)
            if reason is None:
                if distinct_hosts is not None:
                    reason = distinct_hosts.check(counts or _NO_COUNTS)
                if reason is None and distinct_property is not None:
                    reason = distinct_property.check(ctx, node)
            if reason is not None:
                return (_REJECTED, False, reason, node.node_class)
            usage = usage_of(node_id) or load_usage(node_id, node)
            known_fits = usage.memo
            plain = None
            if known_fits is not None:
                plain = known_fits.get(fit_key)
            if plain is None:
                binpack = fit_score(usage)
                if binpack.__class__ is str:
                    plain = (_REJECTED, True, binpack, node.node_class)
                else:
                    scores = plain_score(binpack)
                    if scores is None:
                        scores = plain_scores[binpack] = {SCORE_BINPACK: binpack}
                    plain = (binpack, node, (node_id, scores, binpack))
                if fit_key is not None:
                    if known_fits is None:
                        usage.memo = known_fits = {}
                    elif len(known_fits) >= FIT_MEMO_LIMIT:
                        # A node whose usage stays the same meets every ask of the cluster:
                        # bound what it remembers.
                        known_fits.clear()
                    known_fits[fit_key] = plain
            binpack = plain[0]
            if binpack is _REJECTED:
                return plain
            collisions = counts.get(group, 0) if counts else 0
            if (
                not collisions
                and affinities is None
                and spreads is None
                and node_id not in penalty_nodes
            ):
                # The common case: bin packing alone scores the node.
                return plain
            total_score, parts = binpack, 1
            anti = resched = affinity = spread = None
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
            return (
                final,
                node,
                _entry(
                    meta_entries,
                    score_parts,
                    node_id,
                    final,
                    (binpack, anti, resched, affinity, spread),
                ),
            )

        return assess

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
        judge = self._judges.get(tg.name)
        if judge is None:
            self._stages(tg)
            judge = self._judges[tg.name]
        assess, memo, stages = judge
        if nodes is None:
            walk, offset, total = self._twice, self._offset, len(self._order)
            known_limit = stages.limit
            if known_limit is not None and known_limit[0] is self._order:
                limit = known_limit[1]
            else:
                limit = self.limit_for(tg)
        else:
            walk, offset, total = [(n.id, n) for n in nodes], 0, len(nodes)
            limit = total
        # A node's verdict holds until the plan changes something on that node (the context
        # then drops it from the memo), unless it also depends on where the job's other
        # allocations are (spreads, distinct_property). A penalty node is judged afresh.
        remembered = memo.get if memo is not None else _NO_MEMO.get
        # Every scored node's verdict, (final, node, score entry), in walk order; rejected
        # nodes' verdicts are counted once the walk is over.
        scored: list[_Verdict] = []
        rejected: list[_Verdict] = []
        skipped: list[_Verdict] = []
        keep, reject = scored.append, rejected.append
        best: _Verdict | None = None
        best_final = -math.inf
        skip_at = -math.inf if self.system else SKIP_THRESHOLD
        rejected_tag = _REJECTED
        found = 0
        # The walk reads the order in slices (from the doubled list, so a slice never wraps)
        # rather than indexing node by node; the next slice is longer in case many nodes
        # are rejected.
        start, end, step = offset, offset + total, limit + MAX_SKIP + 4
        while start < end and found < limit:
            stop = start + step if start + step < end else end
            for node_id, node in walk[start:stop]:
                if penalty_nodes and node_id in penalty_nodes:
                    verdict = assess(node_id, node, penalty_nodes)
                else:
                    verdict = remembered(node_id)
                    if verdict is None:
                        verdict = assess(node_id, node, penalty_nodes)
                        if memo is not None:
                            memo[node_id] = verdict
                final = verdict[0]
                if final is rejected_tag:
                    reject(verdict)
                    continue
                keep(verdict)
                if final <= skip_at and len(skipped) < MAX_SKIP:
                    skipped.append(verdict)
                    continue
                if final > best_final:
                    best, best_final = verdict, final
                found += 1
                if found == limit:
                    break
            start, step = stop, step * 2
        evaluated = len(scored) + len(rejected)
        if nodes is None:
            self._offset = (offset + evaluated) % total if total else 0
        metrics = ctx.metrics = PlacementMetrics(self.nodes_available)
        metrics.nodes_evaluated = evaluated
        if rejected:
            metrics.count_rejected(rejected)
        if len(scored) > 1:
            # Stable even reversed: equal scores stay in walk order.
            scored.sort(key=_FINAL, reverse=True)
            del scored[MAX_SCORE_META:]
        metrics.score_meta = [verdict[2] for verdict in scored]
        if found < limit:
            for cand in skipped:
                if best is None or cand[0] > best[0]:
                    best = cand
        if best is None:
            return None
        node = best[1]
        fit = stages.fixed_fit or assign_ports(stages.ask, ctx.node_usage(node), ctx.rng)
        return Selection(node, best[0], fit, metrics)


def _entry(
    entries: dict[str, tuple[tuple[float | None, ...], Any]],
    breakdowns: dict[tuple[float | None, ...], dict[str, float]],
    node_id: str,
    final: float,
    parts: tuple[float | None, ...],
) -> tuple[str, dict[str, float], float]:
    """The ``ScoreMetaData`` entry of a node scored ``parts``: the node's previous entry in
    ``entries`` when it scored alike before (judged afresh, as spreads and penalty nodes
    are), with a breakdown from ``breakdowns`` shared by nodes that scored alike."""
    entry = entries.get(node_id)
    if entry is None or entry[0] != parts:
        scores = breakdowns.get(parts)
        if scores is None:
            scores = breakdowns[parts] = {
                name: p for name, p in zip(_SCORE_NAMES, parts, strict=True) if p is not None
            }
        entry = entries[node_id] = (parts, (node_id, scores, final))
    return entry[1]


_FINAL = operator.itemgetter(0)
# The first item of a verdict that is not a score: the node was filtered or has no room.
_REJECTED = object()
#: What :meth:`Stack.select` learns about one node: ``(final score, node, ScoreMetaData
#: entry)``, or ``(_REJECTED, exhausted, reason or dimension, node class)`` (the layout
#: :meth:`PlacementMetrics.count_rejected` reads).
_Verdict = tuple[Any, ...]
# A node's class verdict not computed yet (``None`` means feasible).
_UNSEEN = object()
_NO_COUNTS: dict[str, int] = {}
_NO_MEMO: dict[str, _Verdict] = {}
_SCORE_NAMES = (SCORE_BINPACK, SCORE_ANTI_AFFINITY, SCORE_RESCHEDULE, SCORE_AFFINITY, SCORE_SPREAD)
