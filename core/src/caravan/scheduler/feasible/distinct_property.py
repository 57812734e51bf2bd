"""distinct_property stage: limit how many allocations share one value of a node property.

``distinct_property = "${meta.rack}"`` with value ``n`` (default 1) allows at most ``n``
allocations of the job (job level) or of the group (group level) per distinct value of the
property. A node without the property is filtered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caravan.scheduler.context import EvalContext
from caravan.scheduler.feasible.targets import resolve_target


@dataclass(frozen=True, slots=True)
class _PropertyLimit:
    target: str
    limit: int
    group: str | None


def _limits(constraints: list[Any], group: str | None) -> list[_PropertyLimit]:
    out = []
    for c in constraints or []:
        if c.operand != "distinct_property":
            continue
        try:
            limit = int(c.rtarget) if c.rtarget else 1
        except ValueError:
            limit = 1
        out.append(_PropertyLimit(c.ltarget, max(limit, 1), group))
    return out


class DistinctProperty:
    """Filters nodes whose property value already has its share of the job's allocations."""

    __slots__ = ("_limits",)

    def __init__(self, job: Any, tg: Any) -> None:
        self._limits = _limits(job.constraints, None) + _limits(tg.constraints, tg.name)

    @property
    def active(self) -> bool:
        """Whether any ``distinct_property`` constraint applies."""
        return bool(self._limits)

    def check(self, ctx: EvalContext, node: Any) -> str | None:
        """Why ``node`` is filtered (Nomad's ``distinct_property: ...`` reason), or ``None``."""
        for pl in self._limits:
            value, found = resolve_target(pl.target, node)
            if not found:
                return f"missing property {pl.target}"
            used = ctx.property_counts(pl.target, pl.group).get(value, 0)  # type: ignore[arg-type]
            if used >= pl.limit:
                return f"distinct_property: {pl.target}={value} used by {used} allocs"
        return None
