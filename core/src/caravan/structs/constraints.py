"""Placement rules: constraints (hard), affinities (soft) and spreads."""

from __future__ import annotations

from caravan.structs.base import JobStruct


class Constraint(JobStruct):
    """``constraint { attribute, operator, value }``: nodes that fail it are never used."""

    ltarget: str = ""
    rtarget: str = ""
    operand: str = ""


class Affinity(JobStruct):
    """``affinity``: like a constraint, but only prefers nodes; ``weight`` is -100..100."""

    ltarget: str = ""
    rtarget: str = ""
    operand: str = ""
    weight: int | None = None


class SpreadTarget(JobStruct):
    """One ``target "value" { percent }`` of a spread."""

    value: str = ""
    percent: int = 0


class Spread(JobStruct):
    """``spread``: distribute allocations over the values of a node attribute."""

    attribute: str = ""
    weight: int | None = None
    spread_target: list[SpreadTarget] | None = None
