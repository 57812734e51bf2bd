"""Affinity scoring: prefer (positive weight) or avoid (negative weight) matching nodes.

The node's score is the sum of the weights of the affinities it matches divided by the sum of
all weights' magnitudes, in [-1, 1], as Nomad's ``NodeAffinityIterator``.
"""

from __future__ import annotations

from typing import Any

from caravan.scheduler.feasible.constraints import NodeConstraint
from caravan.scheduler.feasible.targets import escapes_class


class Affinities:
    """The affinities that apply to one task group (job, group and task level)."""

    __slots__ = ("_rules", "_total")

    def __init__(self, job: Any, tg: Any) -> None:
        affs = list(job.affinities or []) + list(tg.affinities or [])
        for task in tg.tasks or []:
            affs.extend(task.affinities or [])
        self._rules: list[tuple[NodeConstraint, int]] = []
        for a in affs:
            operand = a.operand or "="
            rule = NodeConstraint(
                a.ltarget or "",
                a.rtarget or "",
                operand,
                f"{a.ltarget} {operand} {a.rtarget}",
                escapes_class(a.ltarget or ""),
            )
            weight = 50 if a.weight is None else a.weight
            self._rules.append((rule, weight))
        self._total = sum(abs(w) for _, w in self._rules)

    @property
    def active(self) -> bool:
        """Whether there is any affinity to score."""
        return self._total > 0

    def score(self, node: Any) -> float:
        """The node's affinity score in [-1, 1] (0 when it matches none)."""
        total = sum(w for rule, w in self._rules if rule.matches(node))
        return total / self._total
