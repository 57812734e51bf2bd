"""Validation of constraints, affinities and spreads (Nomad's operator rules)."""

from __future__ import annotations

import re

from caravan.structs.constraints import Affinity, Constraint, Spread
from caravan.structs.problems import Path, Problems

#: Every constraint operator Nomad knows, with its aliases.
CONSTRAINT_OPERATORS = frozenset(
    {
        "=",
        "==",
        "is",
        "!=",
        "not",
        ">",
        ">=",
        "<",
        "<=",
        "regexp",
        "set_contains",
        "set_contains_all",
        "set_contains_any",
        "version",
        "semver",
        "distinct_hosts",
        "distinct_property",
        "is_set",
        "is_not_set",
    }
)
#: Operators an affinity may use.
AFFINITY_OPERATORS = frozenset(
    {
        "=",
        "==",
        "is",
        "!=",
        "not",
        ">",
        ">=",
        "<",
        "<=",
        "regexp",
        "set_contains",
        "set_contains_all",
        "set_contains_any",
        "version",
        "semver",
    }
)
#: Operators that only make sense for a whole group (never inside a task).
GROUP_ONLY_OPERATORS = frozenset({"distinct_hosts", "distinct_property"})

_VERSION_PART = re.compile(
    r"^\s*(=|!=|>=|<=|>|<|~>)?\s*v?\d+(\.\d+)*(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?\s*$"
)


def _interpolated(value: str) -> bool:
    # "${meta.x}" is resolved per node by the scheduler; it cannot be checked here.
    return "${" in value


def check_constraint(c: Constraint, path: Path, problems: Problems, in_task: bool) -> None:
    """Report what is wrong with one constraint at ``path``."""
    op = c.operand
    if not op:
        problems.error((*path, "Operand"), "Missing constraint operand")
        return
    if op not in CONSTRAINT_OPERATORS:
        problems.error((*path, "Operand"), f"Unknown constraint type {op!r}")
        return
    if in_task and op in GROUP_ONLY_OPERATORS:
        problems.error((*path, "Operand"), f"Constraint has disallowed Operand at task level: {op}")
        return
    if op == "distinct_hosts":
        if c.rtarget and c.rtarget.lower() not in ("true", "false", "1", "0", "t", "f"):
            problems.error(
                (*path, "RTarget"), f"distinct_hosts value must be a bool: {c.rtarget!r}"
            )
        return
    if not c.ltarget:
        problems.error((*path, "LTarget"), "No LTarget provided but is required by constraint")
    if op == "distinct_property":
        if c.rtarget and not _interpolated(c.rtarget):
            if not c.rtarget.isdigit():
                problems.error(
                    (*path, "RTarget"), f"Failed to convert RTarget {c.rtarget!r} to uint64"
                )
            elif int(c.rtarget) < 1:
                problems.error(
                    (*path, "RTarget"),
                    "Distinct Property must have an allowed count of 1 or greater: "
                    f"{c.rtarget} < 1",
                )
        return
    if op in ("is_set", "is_not_set"):
        return
    _check_target(op, c.rtarget, path, problems, "constraint")


def _check_target(op: str, rtarget: str, path: Path, problems: Problems, kind: str) -> None:
    if not rtarget:
        problems.error((*path, "RTarget"), f"No RTarget provided but is required by {kind}")
        return
    if _interpolated(rtarget):
        return
    if op == "regexp":
        try:
            re.compile(rtarget)
        except re.error as err:
            problems.error((*path, "RTarget"), f"Regular expression failed to compile: {err}")
    elif op in ("version", "semver") and not all(
        _VERSION_PART.match(part) for part in rtarget.split(",")
    ):
        problems.error((*path, "RTarget"), f"Version constraint is invalid: {rtarget!r}")


def check_affinity(a: Affinity, path: Path, problems: Problems) -> None:
    """Report what is wrong with one affinity at ``path``."""
    if not a.operand:
        problems.error((*path, "Operand"), "Missing affinity operand")
    elif a.operand not in AFFINITY_OPERATORS:
        problems.error((*path, "Operand"), f"Unknown affinity operator {a.operand!r}")
    else:
        if not a.ltarget:
            problems.error((*path, "LTarget"), "No LTarget provided but is required by affinity")
        _check_target(a.operand, a.rtarget, path, problems, "affinity")
    weight = a.weight or 0
    if weight == 0:
        problems.error((*path, "Weight"), "Affinity weight cannot be zero")
    elif not -100 <= weight <= 100:
        problems.error((*path, "Weight"), "Affinity weight must be within the range [-100,100]")


def check_spread(s: Spread, path: Path, problems: Problems) -> None:
    """Report what is wrong with one spread at ``path``."""
    if not s.attribute:
        problems.error((*path, "Attribute"), "Missing spread attribute")
    if s.weight is None or not 0 < s.weight <= 100:
        problems.error((*path, "Weight"), "Spread block must have a positive weight from 0 to 100")
    seen: set[str] = set()
    total = 0
    for i, target in enumerate(s.spread_target or ()):
        tpath = (*path, "SpreadTarget", i)
        if target.value in seen:
            problems.error(
                (*tpath, "Value"), f"Spread target value {target.value!r} already defined"
            )
        seen.add(target.value)
        if not 0 <= target.percent <= 100:
            problems.error(
                (*tpath, "Percent"),
                f"Spread target percentage for value {target.value!r} must be between 0 and 100",
            )
        total += target.percent
    if total > 100:
        problems.error(
            (*path, "SpreadTarget"),
            f"Sum of spread target percentages must not be greater than 100%; got {total}%",
        )


def check_placement(
    obj_constraints: list[Constraint] | None,
    obj_affinities: list[Affinity] | None,
    obj_spreads: list[Spread] | None,
    path: Path,
    problems: Problems,
    in_task: bool = False,
) -> None:
    """Check every constraint, affinity and spread of one job, group or task."""
    for i, c in enumerate(obj_constraints or ()):
        check_constraint(c, (*path, "Constraints", i), problems, in_task)
    for i, a in enumerate(obj_affinities or ()):
        check_affinity(a, (*path, "Affinities", i), problems)
    for i, s in enumerate(obj_spreads or ()):
        check_spread(s, (*path, "Spreads", i), problems)
