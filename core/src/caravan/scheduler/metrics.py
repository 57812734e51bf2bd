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

    def count_rejected(self, rejected: list[tuple[Any, bool, str, str]]) -> None:
        """Count the nodes a walk rejected, in walk order: each ``(tag, exhausted, reason,
        node class)``, where ``exhausted`` tells a node without room in dimension ``reason``
        (``cpu``, ``memory``...) from one filtered by ``reason`` (a constraint or check).

        Counted after the walk rather than node by node: the walk is the innermost loop.
        """
        exhausted = 0
        for _, full, reason, node_class in rejected:
            if full:
                exhausted += 1
                classes, reasons = self.class_exhausted, self.dimension_exhausted
            else:
                classes, reasons = self.class_filtered, self.constraint_filtered
            if node_class:
                classes[node_class] = classes.get(node_class, 0) + 1
            if reason:
                reasons[reason] = reasons.get(reason, 0) + 1
        self.nodes_exhausted += exhausted
        self.nodes_filtered += len(rejected) - exhausted

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
