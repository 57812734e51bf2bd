"""Service registration writes (Nomad-native service discovery)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from caravan.state.errors import StateError
from caravan.state.models import replace
from caravan.state.tables import SERVICES
from caravan.state.txn import WriteTxn


def upsert_services(txn: WriteTxn, registrations: Iterable[Any]) -> None:
    """Insert or refresh service registrations at the transaction's index."""
    for reg in registrations:
        old = txn.get(SERVICES, reg.id)
        create_index = txn.index if old is None else old.create_index
        txn.upsert(SERVICES, replace(reg, create_index=create_index, modify_index=txn.index))


def delete_service(txn: WriteTxn, namespace: str, reg_id: str) -> None:
    """Remove one registration; :class:`StateError` if it is not in ``namespace``."""
    reg = txn.get(SERVICES, reg_id)
    if reg is None or reg.namespace != namespace:
        raise StateError(f"service registration {reg_id!r} not found in namespace {namespace!r}")
    txn.delete(SERVICES, reg_id)


def delete_services_by_alloc(txn: WriteTxn, alloc_ids: Iterable[str]) -> None:
    """Remove every registration of the given allocations (their tasks stopped)."""
    for alloc_id in alloc_ids:
        for reg_id in list(txn.members("service_registrations.alloc", alloc_id)):
            txn.delete(SERVICES, reg_id)


def delete_services_by_node(txn: WriteTxn, node_id: str) -> None:
    """Remove every registration on a node (the node is gone or down)."""
    for reg_id in list(txn.members("service_registrations.node", node_id)):
        txn.delete(SERVICES, reg_id)
