"""Why a placement went where it did, or why it could not be made.

:class:`PlacementMetrics` is filled while one task group instance is being placed and becomes
the allocation's ``Metrics`` (Nomad's ``AllocationMetric``), or the evaluation's
``FailedTGAllocs[group]`` when no node fit. The counters are plain dicts and ints because they
are bumped in the scheduler's innermost loop.
"""

from __future__ import annotations

from typing import Any

#: How many of the best-scoring nodes are kept in ``ScoreMetaData``.
MAX_SCORE_META = 5


class PlacementMetrics:
    """Counters for one placement attempt, named as in Nomad's ``AllocationMetric``."""

    __slots__ = (
        "class_exhausted",
        "class_filtered",
        "coalesced_failures",
        "constraint_filtered",
        "dimension_exhausted",
        "nodes_available",
        "nodes_evaluated",
        "nodes_exhausted",
        "nodes_filtered",
        "score_meta",
    )

    def __init__(self, nodes_available: dict[str, int] | None = None) -> None:
        self.nodes_evaluated = 0
        self.nodes_filtered = 0
        self.nodes_exhausted = 0
        self.coalesced_failures = 0
        self.nodes_available: dict[str, int] = nodes_available or {}
        self.class_filtered: dict[str, int] = {}
        self.constraint_filtered: dict[str, int] = {}
        self.class_exhausted: dict[str, int] = {}
        self.dimension_exhausted: dict[str, int] = {}
        self.score_meta: list[tuple[str, dict[str, float], float]] = []

    def filter_node(self, node: Any, reason: str) -> None:
        """Count ``node`` as infeasible because of ``reason`` (a constraint string or check)."""
        self.nodes_filtered += 1
        if node.node_class:
            self.class_filtered[node.node_class] = self.class_filtered.get(node.node_class, 0) + 1
        if reason:
            self.constraint_filtered[reason] = self.constraint_filtered.get(reason, 0) + 1

    def exhaust_node(self, node: Any, dimension: str) -> None:
        """Count ``node`` as feasible but without room in ``dimension`` (``cpu``, ``memory``...)."""
        self.nodes_exhausted += 1
        if node.node_class:
            self.class_exhausted[node.node_class] = self.class_exhausted.get(node.node_class, 0) + 1
        if dimension:
            self.dimension_exhausted[dimension] = self.dimension_exhausted.get(dimension, 0) + 1

    def to_api(self) -> dict[str, Any]:
        """The metric in Nomad's ``AllocationMetric`` JSON shape."""
        ranked = sorted(self.score_meta, key=lambda entry: -entry[2])
        return {
            "NodesEvaluated": self.nodes_evaluated,
            "NodesFiltered": self.nodes_filtered,
            "NodesInPool": sum(self.nodes_available.values()),
            "NodesAvailable": dict(self.nodes_available),
            "ClassFiltered": dict(self.class_filtered),
            "ConstraintFiltered": dict(self.constraint_filtered),
            "NodesExhausted": self.nodes_exhausted,
            "ClassExhausted": dict(self.class_exhausted),
            "DimensionExhausted": dict(self.dimension_exhausted),
            "QuotaExhausted": [],
            "ResourcesExhausted": None,
            "Scores": None,
            "ScoreMetaData": [
                {"NodeID": node_id, "Scores": scores, "NormScore": final}
                for node_id, scores, final in ranked
            ],
            "AllocationTime": 0,
            "CoalescedFailures": self.coalesced_failures,
        }
