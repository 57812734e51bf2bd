"""Job writes: registration (with versions kept), deregistration, stability, status and summary.

These follow Nomad's state store: a registration whose spec changed gets ``Version + 1`` and a
new ``JobModifyIndex``; the last :data:`JOB_TRACKED_VERSIONS` versions are kept (plus the newest
stable one); every job has a summary with one entry per task group; and a job's status is
recomputed whenever its allocations, evaluations or deployments change.
"""

from __future__ import annotations

from typing import Any

from caravan.state.errors import StateError
from caravan.state.models import replace
from caravan.state.status import (
    CHILDREN_BIN,
    JOB_PENDING,
    SUMMARY_BIN,
    SUMMARY_FIELDS,
    job_status,
)
from caravan.state.tables import ALLOCS, JOB_SUMMARIES, JOB_VERSIONS, JOBS
from caravan.state.txn import WriteTxn

#: How many versions of a job are kept, as Nomad's default ``job_tracked_versions``.
JOB_TRACKED_VERSIONS = 6

#: Fields that change without the spec changing; ignored when deciding on a new version.
_NON_SPEC_FIELDS = frozenset(
    {
        "Status",
        "StatusDescription",
        "Stable",
        "Version",
        "CreateIndex",
        "ModifyIndex",
        "JobModifyIndex",
        "SubmitTime",
    }
)


def spec_changed(old: Any, new: Any) -> bool:
    """Whether ``new`` differs from ``old`` in anything but status, version and indexes."""
    a, b = old.to_api(), new.to_api()
    keys = (a.keys() | b.keys()) - _NON_SPEC_FIELDS
    return any(a.get(k) != b.get(k) for k in keys)


def upsert_job(txn: WriteTxn, job: Any, keep_version: bool = False) -> Any:
    """Register ``job`` (new or updated) at the transaction's index; returns the stored job.

    A changed spec gets ``Version + 1`` and ``JobModifyIndex = index``, unless
    ``keep_version`` (a stability or status change of an existing version).
    """
    key = (job.namespace, job.id)
    existing = txn.get(JOBS, key)
    index = txn.index
    if existing is None:
        stamped = replace(
            job,
            create_index=index,
            modify_index=index,
            job_modify_index=index,
            version=job.version if keep_version else 0,
            status=JOB_PENDING,
        )
    elif keep_version or not spec_changed(existing, job):
        stamped = replace(
            job,
            create_index=existing.create_index,
            modify_index=index,
            job_modify_index=existing.job_modify_index,
            version=existing.version,
            status=existing.status,
            stable=job.stable if keep_version else existing.stable,
        )
    else:
        stamped = replace(
            job,
            create_index=existing.create_index,
            modify_index=index,
            job_modify_index=index,
            version=existing.version + 1,
            status=existing.status,
            stable=False,
        )
    txn.upsert(JOBS, stamped)
    _upsert_version(txn, stamped)
    _ensure_summary(txn, stamped)
    if existing is None:
        _count_child(txn, stamped, None, stamped.status)
    txn.touched_jobs.add(key)
    return stamped


def _upsert_version(txn: WriteTxn, job: Any) -> None:
    key = (job.namespace, job.id)
    versions = [v for v in txn.get(JOB_VERSIONS, key) or () if v.version != job.version]
    versions.append(job)
    versions.sort(key=lambda v: v.version, reverse=True)
    if len(versions) > JOB_TRACKED_VERSIONS:
        kept = versions[:JOB_TRACKED_VERSIONS]
        stable = next((v for v in versions if v.stable), None)
        if stable is not None and stable not in kept:
            kept[-1] = stable
        versions = kept
    txn.put_raw(JOB_VERSIONS, key, tuple(versions))


def _ensure_summary(txn: WriteTxn, job: Any) -> None:
    key = (job.namespace, job.id)
    summary = txn.edit(JOB_SUMMARIES, key)
    if summary is None:
        summary = {
            "JobID": job.id,
            "Namespace": job.namespace,
            "Summary": {},
            "Children": {"Pending": 0, "Running": 0, "Dead": 0},
            "CreateIndex": txn.index,
            "ModifyIndex": txn.index,
        }
        txn.upsert(JOB_SUMMARIES, txn.models.job_summary.from_api(summary))
        summary = txn.edit(JOB_SUMMARIES, key)
    groups = summary.setdefault("Summary", {}) or {}
    summary["Summary"] = groups
    for group in job.task_groups or ():
        groups.setdefault(group.name, dict.fromkeys(SUMMARY_FIELDS, 0))


def _count_child(txn: WriteTxn, job: Any, old: str | None, new: str | None) -> None:
    """Move a dispatched or periodic child between its parent's Children counts."""
    parent_id = getattr(job, "parent_id", "") or ""
    if not parent_id or old == new:
        return
    summary = txn.edit(JOB_SUMMARIES, (job.namespace, parent_id))
    if summary is None:
        return
    children = summary.get("Children") or {"Pending": 0, "Running": 0, "Dead": 0}
    summary["Children"] = children
    if old in CHILDREN_BIN:
        bin_ = CHILDREN_BIN[old]
        children[bin_] = max(0, children.get(bin_, 0) - 1)
    if new in CHILDREN_BIN:
        bin_ = CHILDREN_BIN[new]
        children[bin_] = children.get(bin_, 0) + 1


def delete_job(txn: WriteTxn, namespace: str, job_id: str) -> Any:
    """Purge a job with its versions and summary; its allocations and evaluations stay until
    garbage collected. Raises :class:`StateError` when the job does not exist."""
    job = txn.delete(JOBS, (namespace, job_id))
    if job is None:
        raise StateError(f"job {job_id!r} not found in namespace {namespace!r}")
    txn.delete_raw(JOB_VERSIONS, (namespace, job_id))
    txn.delete(JOB_SUMMARIES, (namespace, job_id))
    _count_child(txn, job, job.status, None)
    return job


def set_job_stability(
    txn: WriteTxn, namespace: str, job_id: str, version: int, stable: bool
) -> Any:
    """Mark one kept version of a job stable (or not); the current job follows if it is that
    version. Raises :class:`StateError` when the job or version is unknown."""
    key = (namespace, job_id)
    versions = txn.get(JOB_VERSIONS, key) or ()
    target = next((v for v in versions if v.version == version), None)
    if target is None:
        raise StateError(f"job {job_id!r} version {version} not found in namespace {namespace!r}")
    current = txn.get(JOBS, key)
    if current is not None and current.version == version:
        return upsert_job(txn, replace(current, stable=stable), keep_version=True)
    _upsert_version(txn, replace(target, stable=stable, modify_index=txn.index))
    return target


def refresh_job_statuses(txn: WriteTxn) -> None:
    """Recompute the status of every job this transaction touched; bump changed ones."""
    for key in sorted(txn.touched_jobs):
        job = txn.get(JOBS, key)
        if job is None:
            continue
        live_allocs = txn.counter("live_allocs", key)
        has_history = (
            bool(job.stop)
            or key in txn.evals_deleted
            or txn.has_members("allocs.job", key)
            or txn.has_members("evals.job", key)
        )
        status = job_status(
            job,
            live_allocs=live_allocs,
            live_deployments=txn.counter("live_deployments", key),
            live_evals=txn.counter("live_evals", key),
            has_history=has_history,
        )
        if status != job.status:
            txn.upsert(JOBS, replace(job, status=status, modify_index=txn.index))
            _count_child(txn, job, job.status, status)
    txn.touched_jobs.clear()


def reconcile_summaries(txn: WriteTxn) -> None:
    """Recount every job's summary from its allocations (keeping ``Queued`` and children)."""
    for key, job in list(txn.base.tables[JOBS].items()):
        summary = txn.edit(JOB_SUMMARIES, key)
        if summary is None:
            _ensure_summary(txn, job)
            summary = txn.edit(JOB_SUMMARIES, key)
        old_groups = summary.get("Summary") or {}
        groups = {
            g.name: {**dict.fromkeys(SUMMARY_FIELDS, 0), "Queued": _queued(old_groups, g.name)}
            for g in job.task_groups or ()
        }
        for alloc_id in list(txn.members("allocs.job", key)):
            alloc = txn.get(ALLOCS, alloc_id)
            bin_ = SUMMARY_BIN.get(alloc.client_status)
            if bin_ is not None and alloc.task_group in groups:
                groups[alloc.task_group][bin_] += 1
        summary["Summary"] = groups


def _queued(groups: dict[str, Any], name: str) -> int:
    return (groups.get(name) or {}).get("Queued", 0)
