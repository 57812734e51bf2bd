"""Allocation writes: plan results, client updates, desired transitions and garbage collection.

Every allocation write also keeps two derived records current, as Nomad's state store does:
the job summary (how many allocations of each task group are starting, running, complete,
failed, lost or unknown, and how many are still queued) and the deployment's per-group
counters (placed, healthy and unhealthy allocations, placed canaries).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from caravan.state.models import merge_field, replace, replace_each
from caravan.state.status import ALLOC_DESIRED_STOP, ALLOC_LOST, ALLOC_UNKNOWN, SUMMARY_BIN
from caravan.state.tables import ALLOCS, DEPLOYMENTS, JOB_SUMMARIES
from caravan.state.txn import WriteTxn
from caravan.structs.base import ZERO_TIME, format_go_time

#: Client-side fields that a scheduler's copy of an allocation must not overwrite.
_CLIENT_FIELDS = ("client_status", "client_description")


def write_alloc(txn: WriteTxn, old: Any | None, new: Any) -> None:
    """Store ``new`` (already stamped) in place of ``old`` and update summary and deployment."""
    txn.upsert(ALLOCS, new)
    _update_summary(txn, old, new)
    _update_deployment(txn, old, new)


def upsert_allocs(txn: WriteTxn, allocs: Iterable[Any], job: Any | None = None) -> int:
    """Place or update allocations from a plan; returns how many were written.

    Allocations arrive without their job (a plan carries it once); ``job`` is attached to every
    one, or the existing allocation's job when ``job`` is ``None``. An update keeps the task
    states and, unless the scheduler marks it lost or unknown, the client status that the
    client reported.
    """
    placed = list(allocs)
    if len({alloc.id for alloc in placed}) != len(placed):
        # One allocation twice in a plan: each write must see the one before it.
        for alloc in placed:
            old = txn.get(ALLOCS, alloc.id)
            write_alloc(txn, old, _updated(txn, alloc, old, job))
        return len(placed)
    olds = [txn.get(ALLOCS, alloc.id) for alloc in placed]
    index = txn.index
    if job is not None and not any(olds):
        news = replace_each(
            placed,
            {"job": job, "create_index": index, "modify_index": index, "alloc_modify_index": index},
        )
    else:
        news = [_updated(txn, alloc, old, job) for alloc, old in zip(placed, olds, strict=True)]
    txn.upsert_many(ALLOCS, news, olds)
    for old, new in zip(olds, news, strict=True):
        _update_summary(txn, old, new)
        _update_deployment(txn, old, new)
    return len(placed)


def _updated(txn: WriteTxn, alloc: Any, old: Any | None, job: Any | None) -> Any:
    """``alloc`` as stored in place of ``old`` (``None``: a new allocation)."""
    index = txn.index
    if old is None:
        return replace(
            alloc,
            job=job if job is not None else alloc.job,
            create_index=index,
            modify_index=index,
            alloc_modify_index=index,
        )
    changes: dict[str, Any] = {
        "job": job if job is not None else (alloc.job or old.job),
        "create_index": old.create_index,
        "modify_index": index,
        "alloc_modify_index": index,
        "task_states": old.task_states,
    }
    if alloc.client_status not in (ALLOC_LOST, ALLOC_UNKNOWN):
        changes.update({f: getattr(old, f) for f in _CLIENT_FIELDS})
    return replace(alloc, **changes)


def stop_alloc(
    txn: WriteTxn,
    alloc_id: str,
    desired_description: str,
    client_status: str = "",
    desired_status: str = ALLOC_DESIRED_STOP,
    preempted_by: str = "",
) -> bool:
    """Mark an allocation stopped (or evicted by ``preempted_by``); ``False`` if unknown."""
    old = txn.get(ALLOCS, alloc_id)
    if old is None:
        return False
    changes: dict[str, Any] = {
        "desired_status": desired_status,
        "desired_description": desired_description,
        "modify_index": txn.index,
        "alloc_modify_index": txn.index,
    }
    if client_status:
        changes["client_status"] = client_status
    if preempted_by:
        changes["preempted_by_allocation"] = preempted_by
    write_alloc(txn, old, replace(old, **changes))
    return True


def client_update(txn: WriteTxn, update: dict[str, Any]) -> bool:
    """Apply what a client reported about one allocation (API JSON: ``ID``, ``ClientStatus``,
    ``ClientDescription``, ``TaskStates``, ``DeploymentStatus``, ``NetworkStatus``,
    ``ModifyTime``). The client may only set its deployment health and timestamp.
    Returns ``False`` for an allocation the state does not know (already collected)."""
    old = txn.get(ALLOCS, update["ID"])
    if old is None:
        return False
    cls = txn.models.allocation
    changes: dict[str, Any] = {"modify_index": txn.index}
    for api_name, field in (
        ("ClientStatus", "client_status"),
        ("ClientDescription", "client_description"),
        ("ModifyTime", "modify_time"),
    ):
        if api_name in update:
            changes[field] = update[api_name]
    for api_name, field in (("TaskStates", "task_states"), ("NetworkStatus", "network_status")):
        if api_name in update:
            changes[field] = merge_field(cls, field, None, update[api_name] or {})
    reported = update.get("DeploymentStatus") or {}
    if reported.get("Healthy") is not None:
        current = old.deployment_status
        if current is None or current.healthy != reported["Healthy"]:
            changes["deployment_status"] = merge_field(
                cls,
                "deployment_status",
                current,
                {
                    "Healthy": reported["Healthy"],
                    "Timestamp": reported.get("Timestamp"),
                    "ModifyIndex": txn.index,
                },
            )
    write_alloc(txn, old, replace(old, **changes))
    return True


def set_alloc_health(txn: WriteTxn, alloc_id: str, healthy: bool, timestamp: Any) -> bool:
    """Record a deployment health verdict on an allocation; ``False`` if unknown."""
    old = txn.get(ALLOCS, alloc_id)
    if old is None:
        return False
    status = merge_field(
        txn.models.allocation,
        "deployment_status",
        old.deployment_status,
        {"Healthy": healthy, "Timestamp": timestamp, "ModifyIndex": txn.index},
    )
    write_alloc(txn, old, replace(old, deployment_status=status, modify_index=txn.index))
    return True


def set_desired_transition(txn: WriteTxn, alloc_id: str, transition: dict[str, Any]) -> bool:
    """Merge ``transition`` (API JSON: ``Migrate``, ``Reschedule``, ``ForceReschedule``…) into
    an allocation's desired transition; ``False`` if the allocation is unknown."""
    old = txn.get(ALLOCS, alloc_id)
    if old is None:
        return False
    merged = merge_field(
        txn.models.allocation, "desired_transition", old.desired_transition, transition
    )
    write_alloc(txn, old, replace(old, desired_transition=merged, modify_index=txn.index))
    return True


def delete_allocs(txn: WriteTxn, alloc_ids: Iterable[str]) -> None:
    """Garbage-collect allocations. Summaries keep their counts, as in Nomad."""
    for alloc_id in alloc_ids:
        txn.delete(ALLOCS, alloc_id)


def _update_summary(txn: WriteTxn, old: Any | None, new: Any) -> None:
    if old is not None and old.client_status == new.client_status:
        return
    if old is None and new.desired_status != "run":
        return
    summary = txn.edit(JOB_SUMMARIES, (new.namespace, new.job_id))
    if summary is None:
        return
    group = (summary.get("Summary") or {}).get(new.task_group)
    if group is None:
        return
    new_bin = SUMMARY_BIN.get(new.client_status)
    if new_bin is not None:
        group[new_bin] = group.get(new_bin, 0) + 1
    if old is None:
        if group.get("Queued", 0) > 0:
            group["Queued"] -= 1
        return
    old_bin = SUMMARY_BIN.get(old.client_status)
    if old_bin is not None and group.get(old_bin, 0) > 0:
        group[old_bin] -= 1


def _health(alloc: Any) -> bool | None:
    status = alloc.deployment_status
    return None if status is None else status.healthy


def _update_deployment(txn: WriteTxn, old: Any | None, new: Any) -> None:
    if not new.deployment_id:
        return
    placed = healthy = unhealthy = 0
    was, now = (None if old is None else _health(old)), _health(new)
    if old is None or old.deployment_id != new.deployment_id:
        placed = 1
    elif was is None and now is not None:
        healthy, unhealthy = (1, 0) if now else (0, 1)
    elif was and now is False:
        healthy, unhealthy = -1, 1
    if not (placed or healthy or unhealthy):
        return
    deployment = txn.edit(DEPLOYMENTS, new.deployment_id)
    if deployment is None:
        return
    state = (deployment.get("TaskGroups") or {}).get(new.task_group)
    if state is None:
        return
    _push_progress_deadline(state, new, placed, healthy)
    state["PlacedAllocs"] = state.get("PlacedAllocs", 0) + placed
    state["HealthyAllocs"] = state.get("HealthyAllocs", 0) + healthy
    state["UnhealthyAllocs"] = state.get("UnhealthyAllocs", 0) + unhealthy
    canary = new.deployment_status is not None and bool(new.deployment_status.canary)
    canaries = state.get("PlacedCanaries") or []
    if canary and new.id not in canaries:
        state["PlacedCanaries"] = [*canaries, new.id]


def _push_progress_deadline(state: dict[str, Any], alloc: Any, placed: int, healthy: int) -> None:
    """Keep the group's ``RequireProgressBy`` as Nomad does: the first allocation placed
    starts the ``ProgressDeadline`` (from its modify time, since an allocation updated in
    place joins the deployment late), and each allocation turning healthy pushes it back
    to its health time stamp plus the deadline."""
    deadline = int(state.get("ProgressDeadline") or 0)
    if not deadline:
        return
    current = state.get("RequireProgressBy") or ZERO_TIME
    if placed and current == ZERO_TIME:
        start = datetime.fromtimestamp((alloc.modify_time or alloc.create_time) / 1e9, UTC)
        state["RequireProgressBy"] = format_go_time(start + timedelta(microseconds=deadline / 1e3))
    elif healthy > 0 and alloc.deployment_status.timestamp is not None:
        pushed = alloc.deployment_status.timestamp + timedelta(microseconds=deadline / 1e3)
        if current == ZERO_TIME or pushed > datetime.fromisoformat(current):
            state["RequireProgressBy"] = format_go_time(pushed)
