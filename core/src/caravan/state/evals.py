"""Evaluation writes: upsert (with the job summary's queued counts) and garbage collection."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from caravan.state.models import replace
from caravan.state.status import EVAL_BLOCKED, EVAL_CANCELED, EVAL_COMPLETE
from caravan.state.tables import EVALS, JOB_SUMMARIES
from caravan.state.txn import WriteTxn


def upsert_evals(txn: WriteTxn, evals: Iterable[Any]) -> None:
    """Insert or update evaluations at the transaction's index.

    As in Nomad: an evaluation's ``QueuedAllocations`` become the job summary's ``Queued``
    counts, and a complete evaluation that placed everything cancels the job's blocked
    evaluations (they have nothing left to place).
    """
    for ev in evals:
        old = txn.get(EVALS, ev.id)
        create_index = txn.index if old is None else old.create_index
        stamped = replace(ev, create_index=create_index, modify_index=txn.index)
        txn.upsert(EVALS, stamped)
        _set_queued(txn, stamped)
        if stamped.status == EVAL_COMPLETE and not getattr(stamped, "failed_tg_allocs", None):
            _cancel_blocked(txn, stamped)


def _set_queued(txn: WriteTxn, ev: Any) -> None:
    queued = getattr(ev, "queued_allocations", None) or {}
    if not queued:
        return
    summary = txn.edit(JOB_SUMMARIES, (ev.namespace, ev.job_id))
    if summary is None:
        return
    groups = summary.get("Summary") or {}
    for group, count in queued.items():
        if group in groups:
            groups[group]["Queued"] = count


def _cancel_blocked(txn: WriteTxn, ev: Any) -> None:
    for eval_id in list(txn.members("evals.job", (ev.namespace, ev.job_id))):
        other = txn.get(EVALS, eval_id)
        if other.id != ev.id and other.status == EVAL_BLOCKED:
            txn.upsert(
                EVALS,
                replace(
                    other,
                    status=EVAL_CANCELED,
                    status_description=f"evaluation {ev.id!r} successful",
                    modify_index=txn.index,
                ),
            )


def delete_evals(txn: WriteTxn, eval_ids: Iterable[str]) -> None:
    """Garbage-collect evaluations (unknown IDs are ignored)."""
    for eval_id in eval_ids:
        txn.delete(EVALS, eval_id)
