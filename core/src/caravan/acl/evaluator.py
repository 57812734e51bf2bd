"""The compiled permissions of one token: what it may do in each namespace and on the
coarse resources (nodes, agent, operator, quota, plugins).

Several policies combine as Nomad combines them:

- rules for the same namespace label are merged: capabilities add up, and ``deny`` in any of
  them leaves that label with ``deny`` alone;
- a namespace is governed by the rule with its exact name; failing that by the matching glob
  closest to it (fewest characters matched by ``*``; on a tie the first in sorted order);
- coarse levels combine by :func:`~caravan.acl.capabilities.max_privilege` (``deny`` wins).

A management token may do everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from caravan.acl.capabilities import (
    DENY,
    LIST_JOBS,
    POLICY_DENY,
    POLICY_READ,
    POLICY_WRITE,
    READ_JOB,
    max_privilege,
)
from caravan.acl.policy import COARSE_BLOCKS, PolicyRules


def _glob_match(pattern: str, name: str) -> bool:
    # fnmatch would also treat "?" and "[...]" as wildcards; Nomad's globs only know "*".
    escaped = pattern.replace("[", "[[]").replace("?", "[?]")
    return fnmatchcase(name, escaped)


@dataclass(frozen=True)
class ACL:
    """Permissions ready to check; build with :meth:`compile` or :meth:`management_acl`."""

    management: bool = False
    namespaces: dict[str, frozenset[str]] = field(default_factory=dict)
    globs: dict[str, frozenset[str]] = field(default_factory=dict)
    coarse: dict[str, str] = field(default_factory=dict)

    @classmethod
    def management_acl(cls) -> ACL:
        return cls(management=True)

    @classmethod
    def compile(cls, policies: Iterable[PolicyRules]) -> ACL:
        """Merge ``policies`` (a token's, or the anonymous policy) into one ACL."""
        exact: dict[str, frozenset[str]] = {}
        globs: dict[str, frozenset[str]] = {}
        coarse: dict[str, str] = {}
        for rules in policies:
            for label, caps in rules.namespaces.items():
                into = globs if "*" in label else exact
                merged = into.get(label, frozenset()) | caps
                into[label] = frozenset({DENY}) if DENY in merged else merged
            for block, level in rules.coarse.items():
                coarse[block] = max_privilege(coarse.get(block, ""), level)
        return cls(namespaces=exact, globs=globs, coarse=coarse)

    # ------------------------------------------------------------------ namespaces

    def capabilities(self, namespace: str) -> frozenset[str]:
        """The capability set governing ``namespace`` (empty when no rule matches)."""
        if namespace in self.namespaces:
            return self.namespaces[namespace]
        best: tuple[int, str] | None = None
        for pattern in sorted(self.globs):
            if _glob_match(pattern, namespace):
                distance = len(namespace) - len(pattern.replace("*", ""))
                if best is None or distance < best[0]:
                    best = (distance, pattern)
        return self.globs[best[1]] if best is not None else frozenset()

    def allow_namespace_operation(self, namespace: str, capability: str) -> bool:
        """Whether ``capability`` (``read-job``, ``submit-job``...) is granted in ``namespace``."""
        if self.management:
            return True
        caps = self.capabilities(namespace)
        return DENY not in caps and capability in caps

    def allow_namespace(self, namespace: str) -> bool:
        """Whether anything at all is granted in ``namespace`` (e.g. to see its events)."""
        if self.management:
            return True
        caps = self.capabilities(namespace)
        return bool(caps) and DENY not in caps

    def can_read_jobs(self, namespace: str) -> bool:
        """``read-job`` or ``list-jobs``: enough to see a namespace's jobs and allocations."""
        return self.allow_namespace_operation(
            namespace, READ_JOB
        ) or self.allow_namespace_operation(namespace, LIST_JOBS)

    # ------------------------------------------------------------------ coarse

    def allow(self, block: str, level: str) -> bool:
        """Whether the coarse ``block`` (``node``, ``agent``, ``operator``, ``quota``,
        ``plugin``) grants ``level`` (``read`` or ``write``); ``write`` implies ``read``."""
        if block not in COARSE_BLOCKS:
            raise ValueError(f"unknown ACL block {block!r}")
        if self.management:
            return True
        have = self.coarse.get(block, "")
        if have in ("", POLICY_DENY):
            return False
        return have == POLICY_WRITE or level == POLICY_READ
