"""Constraint stage: job, group and task constraints evaluated against one node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caravan.scheduler.feasible.operators import PLACEMENT_OPERATORS, check_operator
from caravan.scheduler.feasible.targets import escapes_class, resolve_target


@dataclass(frozen=True, slots=True)
class NodeConstraint:
    """A constraint ready to check; ``reason`` is its ``ConstraintFiltered`` key."""

    ltarget: str
    rtarget: str
    operand: str
    reason: str
    escaped: bool

    def matches(self, node: Any) -> bool:
        """Whether ``node`` satisfies the constraint."""
        left, lfound = resolve_target(self.ltarget, node)
        right, rfound = resolve_target(self.rtarget, node)
        return check_operator(self.operand, left, right, lfound, rfound)


def compile_constraints(constraints: list[Any]) -> tuple[NodeConstraint, ...]:
    """Turn constraint models into :class:`NodeConstraint`s, leaving out ``distinct_*``.

    The reason string is Nomad's rendering, ``"<LTarget> <Operand> <RTarget>"``.
    """
    out = []
    for c in constraints:
        operand = c.operand or "="
        if operand in PLACEMENT_OPERATORS:
            continue
        ltarget, rtarget = c.ltarget or "", c.rtarget or ""
        out.append(
            NodeConstraint(
                ltarget=ltarget,
                rtarget=rtarget,
                operand=operand,
                reason=f"{ltarget} {operand} {rtarget}",
                escaped=escapes_class(ltarget) or escapes_class(rtarget),
            )
        )
    return tuple(out)


def group_constraints(job: Any, tg: Any) -> list[Any]:
    """Every constraint that applies to ``tg``: the job's, the group's, then each task's."""
    out = list(job.constraints or []) + list(tg.constraints or [])
    for task in tg.tasks or []:
        out.extend(task.constraints or [])
    return out


def first_failing(constraints: tuple[NodeConstraint, ...], node: Any) -> str | None:
    """The reason of the first constraint ``node`` fails, or ``None`` when all hold."""
    for c in constraints:
        if not c.matches(node):
            return c.reason
    return None
