"""Datacenter stage: a node is a candidate only in one of the job's datacenters (globs allowed)."""

from __future__ import annotations

from fnmatch import fnmatchcase


def datacenter_matches(datacenter: str, patterns: list[str]) -> bool:
    """Whether ``datacenter`` matches any of the job's ``patterns`` (``*`` and ``?`` globs).

    An empty list means every datacenter, as the server's default ``["*"]`` does.
    """
    if not patterns:
        return True
    return any(p == datacenter or fnmatchcase(datacenter, p) for p in patterns)
