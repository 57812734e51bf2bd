"""The state store: the servers' replicated tables, written by one FSM, read through snapshots.

Reads on the store (``store.job_by_id(...)``, ``store.allocs_by_job(...)``…) use its latest
data; :meth:`StateStore.snapshot` freezes a view for a consistent multi-read (the scheduler
plans against one). Writes come only from the FSM, through :meth:`StateStore.begin` and
:meth:`StateStore.commit`. Blocking queries wait with :meth:`StateStore.wait_for`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from caravan.state.changes import ChangeFeed
from caravan.state.jobs import refresh_job_statuses
from caravan.state.models import ModelSet
from caravan.state.snapshot import StateData, StateReader, StateSnapshot
from caravan.state.tables import TABLES
from caravan.state.txn import WriteTxn
from caravan.state.watch import TableWatch


class StateStore(StateReader):
    """Tables of jobs, job versions and summaries, nodes, evaluations, allocations, deployments
    and service registrations, with secondary indexes and per-table modify indexes.

    ``models`` are the classes the FSM decodes objects into (caravan's structs by default).
    """

    __slots__ = ("_data", "_watch", "changes", "models")

    def __init__(self, models: ModelSet | None = None) -> None:
        self._data = StateData.empty()
        self._watch = TableWatch()
        self.models = models if models is not None else ModelSet.default()
        #: What each commit changed, for readers that follow changes (the event stream).
        self.changes = ChangeFeed()

    # ------------------------------------------------------------------ reads

    def snapshot(self) -> StateSnapshot:
        """An immutable view at the current index; O(1) whatever the store's size."""
        return StateSnapshot(self._data)

    @property
    def latest_index(self) -> int:
        return self._data.index

    async def wait_for(self, tables: Iterable[str], min_index: int, timeout: float) -> int:
        """Wait until any of ``tables`` has an index above ``min_index``, or ``timeout`` seconds.

        Returns the highest index among ``tables`` at that moment (unchanged on timeout:
        a blocking query returns its result either way). Raises ``KeyError`` for an unknown
        table name.
        """
        names = tuple(tables)
        for name in names:
            if name not in TABLES:
                raise KeyError(f"unknown state table {name!r}")
        deadline = time.monotonic() + timeout
        while True:
            current = self._data
            index = max((current.table_index[t] for t in names), default=0)
            remaining = deadline - time.monotonic()
            if index > min_index or remaining <= 0:
                return index
            futures = [self._watch.future(t) for t in names]
            await asyncio.wait(futures, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)

    # ------------------------------------------------------------------ writes (FSM only)

    def begin(self, index: int) -> WriteTxn:
        """Open a write transaction at Raft ``index`` on top of the latest data."""
        return WriteTxn(self._data, index, self.models)

    def commit(self, txn: WriteTxn) -> set[str]:
        """Recompute touched jobs' statuses, publish the transaction's writes and wake the
        watchers of every table it changed. Returns the changed table names."""
        refresh_job_statuses(txn)
        self._data = txn.commit()
        self.changes.publish(txn.index, txn.changes)
        changed = txn.changed_tables
        self._watch.notify(changed)
        return changed

    def restore(self, data: StateData) -> None:
        """Replace the whole state (from an FSM snapshot) and wake every watcher."""
        self._data = data
        self._watch.notify(TABLES)
