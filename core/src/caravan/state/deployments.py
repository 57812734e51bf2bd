"""Deployment writes: creation and update from plans, status changes and canary promotion."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from caravan.state.allocs import write_alloc
from caravan.state.errors import StateError
from caravan.state.models import merge_field, replace
from caravan.state.status import deployment_active
from caravan.state.tables import ALLOCS, DEPLOYMENTS
from caravan.state.txn import WriteTxn

#: Descriptions that a promotion replaces with plain "running".
_AWAITING_PROMOTION = (
    "Deployment is running but requires manual promotion",
    "Deployment is running pending automatic promotion",
)


def upsert_deployment(txn: WriteTxn, deployment: Any) -> Any:
    """Create or replace a deployment at the transaction's index."""
    old = txn.get(DEPLOYMENTS, deployment.id)
    create_index = txn.index if old is None else old.create_index
    stamped = replace(deployment, create_index=create_index, modify_index=txn.index)
    txn.upsert(DEPLOYMENTS, stamped)
    return stamped


def _existing(txn: WriteTxn, deployment_id: str) -> Any:
    deployment = txn.get(DEPLOYMENTS, deployment_id)
    if deployment is None:
        raise StateError(f"deployment {deployment_id!r} not found")
    return deployment


def update_deployment_status(
    txn: WriteTxn, deployment_id: str, status: str, description: str
) -> Any:
    """Set a deployment's status and description; :class:`StateError` if it does not exist."""
    deployment = _existing(txn, deployment_id)
    updated = replace(
        deployment, status=status, status_description=description, modify_index=txn.index
    )
    txn.upsert(DEPLOYMENTS, updated)
    return updated


def promote_deployment(txn: WriteTxn, deployment_id: str, groups: Iterable[str] | None) -> None:
    """Promote the canaries of ``groups`` (every group with canaries when ``None``).

    Refused for a deployment that is no longer active, an unknown group, or a group whose
    placed canaries are not all healthy yet.
    """
    deployment = _existing(txn, deployment_id)
    if not deployment_active(deployment):
        raise StateError(f"deployment {deployment_id!r} is {deployment.status}: cannot promote")
    data = txn.edit(DEPLOYMENTS, deployment_id)
    states = data.get("TaskGroups") or {}
    wanted = list(groups) if groups is not None else sorted(states)
    for name in wanted:
        if name not in states:
            raise StateError(f"deployment {deployment_id!r} has no task group {name!r}")
    for name in wanted:
        state = states[name]
        if not state.get("DesiredCanaries") or state.get("Promoted"):
            continue
        canaries = state.get("PlacedCanaries") or []
        healthy = 0
        for alloc_id in canaries:
            alloc = txn.get(ALLOCS, alloc_id)
            status = None if alloc is None else alloc.deployment_status
            healthy += bool(status is not None and status.healthy)
        if healthy < state["DesiredCanaries"]:
            raise StateError(
                f"task group {name!r} has {healthy}/{state['DesiredCanaries']} healthy "
                f"canaries: promote once they are healthy"
            )
        state["Promoted"] = True
        _unflag_canaries(txn, canaries)
    if data.get("StatusDescription") in _AWAITING_PROMOTION:
        data["StatusDescription"] = "Deployment is running"


def _unflag_canaries(txn: WriteTxn, alloc_ids: Iterable[str]) -> None:
    """Promoted canaries are ordinary allocations of the new version: clear their
    ``DeploymentStatus.Canary`` and bump their ``AllocModifyIndex`` so that their clients
    see the change (and advertise ``tags`` instead of ``canary_tags``)."""
    for alloc_id in alloc_ids:
        old = txn.get(ALLOCS, alloc_id)
        if old is None or old.deployment_status is None or not old.deployment_status.canary:
            continue
        status = merge_field(
            txn.models.allocation,
            "deployment_status",
            old.deployment_status,
            {"Canary": False, "ModifyIndex": txn.index},
        )
        changes = {
            "deployment_status": status,
            "modify_index": txn.index,
            "alloc_modify_index": txn.index,
        }
        write_alloc(txn, old, replace(old, **changes))
