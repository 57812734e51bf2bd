"""Constraint and affinity operators, evaluated on resolved string values.

The semantics follow Nomad: equality needs both sides present, ``!=`` also matches a missing
left side, ordering compares numerically when both sides parse as numbers (else as strings),
``regexp`` searches anywhere in the value, the ``set_contains*`` operators split both sides on
commas, and ``version``/``semver`` use :mod:`caravan.scheduler.feasible.version`.
``distinct_hosts`` and ``distinct_property`` always pass here: they depend on the other
allocations, not on the node alone, and have their own stages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from caravan.scheduler.feasible.version import semver_matches, version_matches

#: Operators that are checked by their own stages, not per node.
PLACEMENT_OPERATORS = frozenset({"distinct_hosts", "distinct_property"})


@lru_cache(maxsize=1024)
def _regexp(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _number(text: str) -> float | None:
    try:
        return float(int(text))
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _order(op: str, left: str, right: str) -> bool:
    ln, rn = _number(left), _number(right)
    a: float | str
    b: float | str
    if ln is not None and rn is not None:
        a, b = ln, rn
    else:
        a, b = left, right
    if op == "<":
        return a < b  # type: ignore[operator]
    if op == "<=":
        return a <= b  # type: ignore[operator]
    if op == ">":
        return a > b  # type: ignore[operator]
    return a >= b  # type: ignore[operator]


def _set(text: str) -> set[str]:
    return {part.strip() for part in text.split(",")}


def _contains_all(left: str, right: str) -> bool:
    have = _set(left)
    return all(item in have for item in _set(right))


def _contains_any(left: str, right: str) -> bool:
    have = _set(left)
    return any(item in have for item in _set(right))


def _regexp_match(left: str, right: str) -> bool:
    pattern = _regexp(right)
    return pattern is not None and pattern.search(left) is not None


# Operators needing both sides present, as a function of the two values.
_BINARY: dict[str, Callable[[str, str], bool]] = {
    "=": str.__eq__,
    "==": str.__eq__,
    "is": str.__eq__,
    "<": lambda a, b: _order("<", a, b),
    "<=": lambda a, b: _order("<=", a, b),
    ">": lambda a, b: _order(">", a, b),
    ">=": lambda a, b: _order(">=", a, b),
    "regexp": _regexp_match,
    "set_contains": _contains_all,
    "set_contains_all": _contains_all,
    "set_contains_any": _contains_any,
    "version": version_matches,
    "semver": semver_matches,
}

#: Every operator a constraint may use.
OPERATORS = frozenset(_BINARY) | {"!=", "not", "is_set", "is_not_set"} | PLACEMENT_OPERATORS


def check_operator(
    operand: str, left: str | None, right: str | None, left_found: bool, right_found: bool
) -> bool:
    """Evaluate ``left <operand> right``; unknown operators never match."""
    if operand in ("!=", "not"):
        return not (left_found and right_found and left == right)
    if operand == "is_set":
        return left_found
    if operand == "is_not_set":
        return not left_found
    if operand in PLACEMENT_OPERATORS:
        return True
    fn = _BINARY.get(operand)
    if fn is None or not (left_found and right_found):
        return False
    return fn(left, right)  # type: ignore[arg-type]
