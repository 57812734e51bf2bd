"""Spread scoring: distribute a group's allocations over the values of a node property.

With targets (``spread { attribute = "${node.datacenter}" target "dc1" { percent = 70 } }``)
each value is aimed at ``percent`` of the group's count; values not named share the rest as an
implicit ``*`` target. Without targets the aim is an even spread. Each spread's contribution
is weighted by its share of the summed weights, as Nomad's ``SpreadIterator``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caravan.scheduler.context import EvalContext
from caravan.scheduler.feasible.targets import resolve_target

_IMPLICIT = "*"


@dataclass(frozen=True, slots=True)
class _Spread:
    attribute: str
    weight_share: float
    desired: dict[str, float]


def even_spread_boost(counts: dict[str, int], current: int) -> float:
    """Score for a value holding ``current`` allocations when the aim is an even spread.

    Values below the current minimum are boosted, values at the minimum of an already even
    spread are penalised, values above the minimum are penalised by how far above they are.
    """
    used = [n for n in counts.values() if n > 0]
    if not used:
        return 1.0
    low, high = min(used), max(used)
    if current != low:
        return (low - current) / low
    if low == high:
        return -1.0
    return (high - low) / low


class Spreads:
    """The spreads that apply to one task group."""

    __slots__ = ("_group", "_spreads")

    def __init__(self, job: Any, tg: Any) -> None:
        spreads = list(job.spreads or []) + list(tg.spreads or [])
        total = sum(s.weight if s.weight is not None else 50 for s in spreads)
        count = tg.count or 0
        self._group = tg.name
        self._spreads: list[_Spread] = []
        for s in spreads:
            weight = s.weight if s.weight is not None else 50
            desired: dict[str, float] = {}
            for t in s.spread_target or []:
                desired[t.value] = (t.percent or 0) / 100.0 * count
            if desired and sum(desired.values()) < count:
                desired[_IMPLICIT] = count - sum(desired.values())
            share = weight / total if total else 0.0
            self._spreads.append(_Spread(s.attribute, share, desired))

    @property
    def active(self) -> bool:
        """Whether the group has any spread."""
        return bool(self._spreads)

    def score(self, ctx: EvalContext, node: Any) -> float:
        """The node's spread score (roughly in [-1, 1])."""
        total = 0.0
        for sp in self._spreads:
            value, found = resolve_target(sp.attribute, node)
            if not found:
                total -= sp.weight_share
                continue
            counts = ctx.property_counts(sp.attribute, self._group)
            current = counts.get(value, 0)  # type: ignore[arg-type]
            if not sp.desired:
                total += even_spread_boost(counts, current) * sp.weight_share
                continue
            desired = sp.desired.get(value, sp.desired.get(_IMPLICIT))  # type: ignore[arg-type]
            if not desired:
                total -= sp.weight_share
                continue
            total += (desired - (current + 1)) / desired * sp.weight_share
        return total
