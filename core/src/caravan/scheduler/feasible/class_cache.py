"""Class-level feasibility, memoised per computed node class.

Nodes with the same computed class share datacenter, class, pool, non-unique attributes, meta
and drivers, so the driver check and every constraint that reads none of the ``unique.``
fields give the same answer for all of them: the first node of a class decides for the class.
Constraints on ``unique.`` fields "escape" the class and are checked on every node.
"""

from __future__ import annotations

import hashlib
from typing import Any

from caravan.scheduler.feasible.constraints import NodeConstraint, first_failing
from caravan.scheduler.feasible.drivers import MISSING_DRIVERS, drivers_present


def compute_class(node: Any) -> str:
    """A node's computed class: a hash of every field that class-level checks may read.

    Used when the node does not carry one; the ``unique.`` attributes and meta are left out.
    """
    parts = [node.datacenter or "", node.node_class or "", node.node_pool or ""]
    for prefix, mapping in (("attr", node.attributes or {}), ("meta", node.meta or {})):
        parts.extend(
            f"{prefix}.{k}={v}" for k, v in sorted(mapping.items()) if not k.startswith("unique.")
        )
    for name, info in sorted((node.drivers or {}).items()):
        parts.append(f"driver.{name}={bool(info.detected)}/{bool(info.healthy)}")
    return "v1:" + hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).hexdigest()


class ClassFeasibility:
    """The class-cacheable checks of one task group, with their per-class verdicts.

    :meth:`check` returns ``None`` for a feasible node, or the reason it was filtered.
    """

    __slots__ = ("_by_class", "_class_of", "_drivers", "_escaped", "_shared")

    def __init__(
        self,
        drivers: frozenset[str],
        constraints: tuple[NodeConstraint, ...],
        class_of: dict[str, str] | None = None,
    ) -> None:
        self._drivers = drivers
        self._shared = tuple(c for c in constraints if not c.escaped)
        self._escaped = tuple(c for c in constraints if c.escaped)
        self._by_class: dict[str, str | None] = {}
        # Computed classes of nodes that carry none, shared by the groups of one evaluation.
        self._class_of = class_of if class_of is not None else {}

    @property
    def escaped(self) -> bool:
        """Whether some constraint reads per-node values, so classes do not tell the whole story."""
        return bool(self._escaped)

    @property
    def known(self) -> dict[str, str | None]:
        """The memo itself, computed class -> reason (``None``: feasible), for callers that
        look verdicts up per node; read-only, and valid only without escaped constraints."""
        return self._by_class

    def verdicts(self) -> dict[str, bool]:
        """Each computed class seen so far, and whether it passed the class-level checks."""
        return {cls: reason is None for cls, reason in self._by_class.items()}

    def _class(self, node: Any) -> str:
        cls = node.computed_class
        if cls:
            return cls
        cls = self._class_of.get(node.id)
        if cls is None:
            cls = self._class_of[node.id] = compute_class(node)
        return cls

    def check(self, node: Any) -> str | None:
        """Why ``node`` cannot run the group (``"missing drivers"`` or a constraint), or None."""
        cls = node.computed_class or self._class(node)
        try:
            reason = self._by_class[cls]
        except KeyError:
            if not drivers_present(node, self._drivers):
                reason = MISSING_DRIVERS
            else:
                reason = first_failing(self._shared, node)
            self._by_class[cls] = reason
        if reason is None and self._escaped:
            reason = first_failing(self._escaped, node)
        return reason
