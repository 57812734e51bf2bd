"""Node writes: registration, deregistration, status, drain and scheduling eligibility."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from caravan.state.errors import StateError
from caravan.state.models import field_from_api, replace
from caravan.state.status import NODE_ELIGIBLE, NODE_INELIGIBLE
from caravan.state.tables import NODES
from caravan.state.txn import WriteTxn

#: How many events a node keeps, newest last (Nomad's limit).
MAX_NODE_EVENTS = 10


def _with_event(txn: WriteTxn, node: Any, event: dict[str, Any] | None) -> dict[str, Any]:
    """Attribute changes that append ``event`` (API JSON) to the node's events."""
    if not event:
        return {}
    new = field_from_api(txn.models.node, "events", [{**event, "CreateIndex": txn.index}])
    return {"events": [*(node.events or ()), *new][-MAX_NODE_EVENTS:]}


def _existing(txn: WriteTxn, node_id: str) -> Any:
    node = txn.get(NODES, node_id)
    if node is None:
        raise StateError(f"node {node_id!r} not found")
    return node


def upsert_node(txn: WriteTxn, node: Any) -> Any:
    """Register a node, or refresh a known one. A re-registration keeps what operators set
    (drain strategy, eligibility) and the node's event history."""
    old = txn.get(NODES, node.id)
    if old is None:
        stamped = replace(node, create_index=txn.index, modify_index=txn.index)
    else:
        stamped = replace(
            node,
            create_index=old.create_index,
            modify_index=txn.index,
            events=old.events,
            drain_strategy=old.drain_strategy,
            scheduling_eligibility=old.scheduling_eligibility,
        )
    txn.upsert(NODES, stamped)
    return stamped


def delete_nodes(txn: WriteTxn, node_ids: Iterable[str]) -> None:
    """Deregister nodes; raises :class:`StateError` naming the first unknown one."""
    for node_id in node_ids:
        if txn.delete(NODES, node_id) is None:
            raise StateError(f"node {node_id!r} not found")


def update_node_status(
    txn: WriteTxn, node_id: str, status: str, updated_at: int, event: dict[str, Any] | None
) -> Any:
    """Set a node's status (``initializing``, ``ready``, ``down``, ``disconnected``)."""
    node = _existing(txn, node_id)
    updated = replace(
        node,
        status=status,
        status_updated_at=updated_at,
        modify_index=txn.index,
        **_with_event(txn, node, event),
    )
    txn.upsert(NODES, updated)
    return updated


def update_node_drain(
    txn: WriteTxn,
    node_id: str,
    drain_strategy: dict[str, Any] | None,
    mark_eligible: bool,
    event: dict[str, Any] | None,
) -> Any:
    """Start (``drain_strategy`` as API JSON) or stop (``None``) draining a node. A draining
    node is ineligible; stopping a drain makes it eligible again only with ``mark_eligible``."""
    node = _existing(txn, node_id)
    strategy = field_from_api(txn.models.node, "drain_strategy", drain_strategy)
    eligibility = node.scheduling_eligibility
    if strategy is not None:
        eligibility = NODE_INELIGIBLE
    elif mark_eligible:
        eligibility = NODE_ELIGIBLE
    updated = replace(
        node,
        drain_strategy=strategy,
        drain=strategy is not None,
        scheduling_eligibility=eligibility,
        modify_index=txn.index,
        **_with_event(txn, node, event),
    )
    txn.upsert(NODES, updated)
    return updated


def update_node_eligibility(
    txn: WriteTxn, node_id: str, eligibility: str, event: dict[str, Any] | None
) -> Any:
    """Set a node's scheduling eligibility; a draining node cannot be made eligible."""
    if eligibility not in (NODE_ELIGIBLE, NODE_INELIGIBLE):
        raise StateError(f"invalid scheduling eligibility {eligibility!r} for node {node_id!r}")
    node = _existing(txn, node_id)
    if eligibility == NODE_ELIGIBLE and node.drain_strategy is not None:
        raise StateError(
            f"can not set node {node_id!r} scheduling eligibility to eligible while it is draining"
        )
    updated = replace(
        node,
        scheduling_eligibility=eligibility,
        modify_index=txn.index,
        **_with_event(txn, node, event),
    )
    txn.upsert(NODES, updated)
    return updated
