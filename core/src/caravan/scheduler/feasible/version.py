"""Version comparisons for the ``version`` and ``semver`` constraint operators.

``version`` follows the lenient go-version rules Nomad uses: a leading ``v`` is optional, any
number of numeric segments (missing ones count as zero), comma-separated constraints that must
all hold, the pessimistic ``~>`` operator, and a prerelease version only satisfies a constraint
that itself names a prerelease of the same release (``1.2.0-beta`` does not satisfy ``>= 1.0``).

``semver`` follows SemVer 2.0 strictly: at most three numeric segments, precedence as the spec
defines it, and prereleases take part in ordinary comparisons (``1.2.0-beta`` satisfies
``>= 1.0``). There is no ``~>`` for ``semver``.

Both parse functions return ``None`` for text that is not a version; the constraint then simply
does not match, as in Nomad.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_IDENT = r"[0-9A-Za-z\-~]+"
_GO_VERSION = re.compile(
    r"^v?(?P<num>[0-9]+(?:\.[0-9]+)*)"
    rf"(?:-?(?P<pre>{_IDENT}(?:\.{_IDENT})*))?"
    rf"(?:\+(?P<meta>{_IDENT}(?:\.{_IDENT})*))?$"
)
_SEMVER = re.compile(
    r"^v?(?P<num>[0-9]+(?:\.[0-9]+){0,2})"
    r"(?:-(?P<pre>[0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?"
    r"(?:\+(?P<meta>[0-9A-Za-z\-]+(?:\.[0-9A-Za-z\-]+)*))?$"
)
_CONSTRAINT = re.compile(r"^\s*(?P<op>~>|>=|<=|!=|=|>|<)?\s*(?P<ver>\S+)\s*$")


@dataclass(frozen=True)
class Version:
    """A parsed version: numeric ``segments`` (padded to 3), prerelease, and how many segments
    the text actually gave (the pessimistic operator needs that)."""

    segments: tuple[int, ...]
    prerelease: str
    given: int

    def compare(self, other: Version) -> int:
        """-1, 0 or 1 by version precedence; build metadata is ignored."""
        width = max(len(self.segments), len(other.segments))
        mine = self.segments + (0,) * (width - len(self.segments))
        theirs = other.segments + (0,) * (width - len(other.segments))
        if mine != theirs:
            return -1 if mine < theirs else 1
        return _compare_prerelease(self.prerelease, other.prerelease)


def _compare_prerelease(a: str, b: str) -> int:
    # A release ranks above any of its prereleases; identifiers compare numerically when
    # both are numbers, numbers rank below words, and a longer list wins a common prefix.
    if a == b:
        return 0
    if not a:
        return 1
    if not b:
        return -1
    pa, pb = a.split("."), b.split(".")
    for x, y in zip(pa, pb, strict=False):
        if x == y:
            continue
        xd, yd = x.isdigit(), y.isdigit()
        if xd and yd:
            return -1 if int(x) < int(y) else 1
        if xd != yd:
            return -1 if xd else 1
        return -1 if x < y else 1
    return -1 if len(pa) < len(pb) else 1


def _build(match: re.Match[str]) -> Version:
    nums = tuple(int(p) for p in match.group("num").split("."))
    padded = nums + (0,) * (3 - len(nums)) if len(nums) < 3 else nums
    return Version(padded, match.group("pre") or "", len(nums))


@lru_cache(maxsize=4096)
def parse_version(text: str) -> Version | None:
    """Parse a go-version style version, or return ``None``."""
    m = _GO_VERSION.match(text.strip())
    return _build(m) if m else None


@lru_cache(maxsize=4096)
def parse_semver(text: str) -> Version | None:
    """Parse a strict SemVer 2.0 version (1 to 3 numeric segments), or return ``None``."""
    m = _SEMVER.match(text.strip())
    return _build(m) if m else None


Check = tuple[str, Version]


def _parse_checks(text: str, parse: object, allowed: frozenset[str]) -> tuple[Check, ...] | None:
    checks: list[Check] = []
    for part in text.split(","):
        m = _CONSTRAINT.match(part)
        if not m:
            return None
        op = m.group("op") or "="
        ver = parse(m.group("ver"))  # type: ignore[operator]
        if op not in allowed or ver is None:
            return None
        checks.append((op, ver))
    return tuple(checks)


_GO_OPS = frozenset({"=", "!=", ">", "<", ">=", "<=", "~>"})
_SEMVER_OPS = _GO_OPS - {"~>"}


@lru_cache(maxsize=1024)
def parse_version_constraint(text: str) -> tuple[Check, ...] | None:
    """Parse a go-version constraint list such as ``">= 1.2, < 2.0"`` or ``"~> 1.4"``."""
    return _parse_checks(text, parse_version, _GO_OPS)


@lru_cache(maxsize=1024)
def parse_semver_constraint(text: str) -> tuple[Check, ...] | None:
    """Parse a SemVer constraint list (``=``, ``!=``, ``>``, ``<``, ``>=``, ``<=``)."""
    return _parse_checks(text, parse_semver, _SEMVER_OPS)


def _holds(op: str, v: Version, c: Version) -> bool:
    cmp = v.compare(c)
    if op == "=":
        return cmp == 0
    if op == "!=":
        return cmp != 0
    if op == ">":
        return cmp > 0
    if op == "<":
        return cmp < 0
    if op == ">=":
        return cmp >= 0
    if op == "<=":
        return cmp <= 0
    # "~>": at least c, and every segment c gave except its last must stay the same,
    # so "~> 1.2.3" means ">= 1.2.3, < 1.3" and "~> 1.2" means ">= 1.2, < 2".
    if cmp < 0:
        return False
    keep = c.given - 1
    return v.segments[:keep] == c.segments[:keep]


def _prerelease_allowed(v: Version, c: Version) -> bool:
    # go-version: a prerelease only satisfies constraints on a prerelease of the same release.
    if not v.prerelease:
        return True
    return bool(c.prerelease) and v.segments == c.segments


def version_matches(version: str, constraint: str) -> bool:
    """Whether ``version`` satisfies the go-version ``constraint`` (``version`` operator)."""
    v = parse_version(version)
    checks = parse_version_constraint(constraint)
    if v is None or checks is None:
        return False
    return all(_prerelease_allowed(v, c) and _holds(op, v, c) for op, c in checks)


def semver_matches(version: str, constraint: str) -> bool:
    """Whether ``version`` satisfies the SemVer ``constraint`` (``semver`` operator)."""
    v = parse_semver(version)
    checks = parse_semver_constraint(constraint)
    if v is None or checks is None:
        return False
    return all(_holds(op, v, c) for op, c in checks)
