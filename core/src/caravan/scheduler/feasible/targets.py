"""Resolving constraint targets (``${attr.kernel.name}``, ``${node.class}``, literals) on a node.

A target that is not wrapped in ``${...}`` is a literal and always "found". Interpolated targets
name node fields (``${node.unique.id}``, ``${node.unique.name}``, ``${node.datacenter}``,
``${node.region}``, ``${node.class}``, ``${node.pool}``), fingerprinted attributes
(``${attr.<key>}``) or client meta (``${meta.<key>}``); anything else is not found.
"""

from __future__ import annotations

from typing import Any

_NODE_FIELDS = {
    "node.unique.id": "id",
    "node.unique.name": "name",
    "node.datacenter": "datacenter",
    "node.region": "region",
    "node.class": "node_class",
    "node.pool": "node_pool",
}


def resolve_target(target: str, node: Any) -> tuple[str | None, bool]:
    """Return ``(value, found)`` for ``target`` on ``node``.

    ``found`` is False when the target names something the node does not have; operators such
    as ``!=`` and ``is_not_set`` rely on that distinction.
    """
    if not target.startswith("${") or not target.endswith("}"):
        return target, True
    name = target[2:-1]
    field = _NODE_FIELDS.get(name)
    if field is not None:
        value = getattr(node, field, None)
        if value is None:
            return None, False
        return str(value), True
    if name.startswith("attr."):
        value = (node.attributes or {}).get(name[5:])
    elif name.startswith("meta."):
        value = (node.meta or {}).get(name[5:])
    else:
        return None, False
    if value is None:
        return None, False
    return str(value), True


def escapes_class(target: str) -> bool:
    """Whether a target reads something unique to one node (``unique.`` anywhere in it).

    Constraints on such targets cannot be memoised per computed node class: two nodes of the
    same class differ there by definition.
    """
    return target.startswith("${") and "unique." in target
