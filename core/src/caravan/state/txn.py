"""A write transaction over the state store: the only way its tables change.

The FSM opens one per committed Raft entry (``WriteTxn(snapshot.data, index, models)``), applies
the command through it, and commits; the result is a new :class:`StateData` that shares every
untouched structure with the old one. A command that fails part-way is simply not committed, so
a rejected request changes no state.

The transaction keeps secondary indexes and the per-job liveness counters in step with every
upsert and delete, stamps ``CreateIndex``/``ModifyIndex``, bumps the index of each table it
changes, and recomputes the status of every job whose allocations, evaluations or deployments
it touched.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any

from caravan.state.index import MultiIndexWriter, TableWriter, prefix_bucket
from caravan.state.models import ModelSet
from caravan.state.snapshot import StateData
from caravan.state.status import alloc_terminal, deployment_active, eval_terminal
from caravan.state.tables import (
    ALLOCS,
    DEPLOYMENTS,
    EVALS,
    JOB_SUMMARIES,
    SPECS,
    TableSpec,
)
from caravan.state.usage import NODE_USAGE, update_node_usage

#: Tables whose objects count towards a job's liveness: table -> (counter, "is live" predicate).
_LIVENESS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    ALLOCS: ("live_allocs", lambda a: not alloc_terminal(a)),
    EVALS: ("live_evals", lambda e: not eval_terminal(e)),
    DEPLOYMENTS: ("live_deployments", deployment_active),
}

#: Each table's secondary indexes by their full names (written once per object written).
_QUALIFIED = {
    spec.name: tuple((f"{spec.name}.{name}", key_fn) for name, key_fn in spec.indexes)
    for spec in SPECS.values()
}
_PREFIX_INDEX = {spec.name: f"{spec.name}.prefix" for spec in SPECS.values()}

#: Where each editable table's API JSON model class is found in a :class:`ModelSet`.
_EDIT_MODELS = {JOB_SUMMARIES: "job_summary", DEPLOYMENTS: "deployment"}


class WriteTxn:
    """One atomic batch of writes at Raft ``index``, on top of ``base``."""

    def __init__(self, base: StateData, index: int, models: ModelSet) -> None:
        self.base = base
        self.index = index
        self.models = models
        self._tables: dict[str, TableWriter] = {}
        self._indexes: dict[str, MultiIndexWriter] = {}
        self._counters: dict[str, TableWriter] = {}
        self._edits: dict[tuple[str, Hashable], dict[str, Any]] = {}
        self.touched_jobs: set[tuple[str, str]] = set()
        self.evals_deleted: set[tuple[str, str]] = set()
        #: (table, key, old, new) of every object written, for the store's change feed.
        self.changes: list[tuple[str, Hashable, Any, Any]] = []

    # ------------------------------------------------------------------ writers

    def table(self, name: str) -> TableWriter:
        writer = self._tables.get(name)
        if writer is None:
            writer = self._tables[name] = TableWriter(self.base.tables[name])
        return writer

    def _index(self, name: str) -> MultiIndexWriter:
        writer = self._indexes.get(name)
        if writer is None:
            writer = self._indexes[name] = MultiIndexWriter(self.base.indexes[name])
        return writer

    def _counter(self, name: str) -> TableWriter:
        writer = self._counters.get(name)
        if writer is None:
            writer = self._counters[name] = TableWriter(self.base.counters[name])
        return writer

    # ------------------------------------------------------------------ reads

    def get(self, table: str, key: Hashable) -> Any | None:
        """The object under ``key`` as this transaction sees it (pending edits applied)."""
        if self._edits and (table, key) in self._edits:
            self._materialize(table, key)
        # A table only read is not opened for writing: opening costs a mutation per commit.
        writer = self._tables.get(table)
        return self.base.tables[table].get(key) if writer is None else writer.get(key)

    def members(self, index: str, key: Hashable) -> Iterator[Hashable]:
        """Primary keys under ``key`` in a secondary index, as this transaction sees them."""
        return self._index(index).members(key)

    def has_members(self, index: str, key: Hashable) -> bool:
        """Whether anything is under ``key`` in a secondary index (O(1))."""
        return self._index(index).has(key)

    def counter(self, name: str, key: Hashable) -> int:
        writer = self._counters.get(name)
        return self.base.counters[name].get(key, 0) if writer is None else writer.get(key, 0)

    # ------------------------------------------------------------------ writes

    def upsert(self, table: str, obj: Any) -> None:
        """Insert or replace ``obj``; indexes, counters and the table's index follow.

        The caller has already stamped ``create_index``/``modify_index``.
        """
        spec = SPECS[table]
        key = spec.key(obj)
        if self._edits:
            self._edits.pop((table, key), None)
        writer = self.table(table)
        old = writer.get(key)
        writer.set(key, obj)
        self._reindex(spec, key, old, obj)

    def delete(self, table: str, key: Hashable) -> Any | None:
        """Remove the object under ``key``; returns it, or ``None`` when there was none."""
        self._edits.pop((table, key), None)
        writer = self.table(table)
        old = writer.get(key)
        if old is None:
            return None
        writer.delete(key)
        self._reindex(SPECS[table], key, old, None)
        return old

    def put_raw(self, table: str, key: Hashable, value: Any) -> None:
        """Set a value in a table without secondary indexes (job versions)."""
        self.table(table).set(key, value)

    def delete_raw(self, table: str, key: Hashable) -> None:
        writer = self.table(table)
        if key in writer:
            writer.delete(key)

    def edit(self, table: str, key: Hashable) -> dict[str, Any] | None:
        """The object's API JSON, to change in place; turned back into a model at commit.

        Only for job summaries and deployments, whose nested counters change once per
        allocation. Returns ``None`` when there is no such object.
        """
        pending = self._edits.get((table, key))
        if pending is not None:
            return pending
        obj = self.table(table).get(key)
        if obj is None:
            return None
        pending = self._edits[(table, key)] = obj.to_api()
        return pending

    def _materialize(self, table: str, key: Hashable) -> None:
        data = self._edits.pop((table, key))
        data["ModifyIndex"] = self.index
        model = getattr(self.models, _EDIT_MODELS[table])
        self.upsert(table, model.from_api(data))

    def _reindex(self, spec: TableSpec, key: Hashable, old: Any, new: Any) -> None:
        self.changes.append((spec.name, key, old, new))
        for index_name, key_fn in _QUALIFIED[spec.name]:
            old_k = key_fn(old) if old is not None else None
            new_k = key_fn(new) if new is not None else None
            if old_k == new_k and old is not None and new is not None:
                continue
            writer = self._index(index_name)
            if old_k is not None:
                writer.discard(old_k, key)
            if new_k is not None:
                writer.add(new_k, key)
        if spec.prefix and (old is None or new is None):
            bucket = prefix_bucket(spec.id_of(key))
            prefix = self._index(_PREFIX_INDEX[spec.name])
            if new is None:
                prefix.discard(bucket, key)
            else:
                prefix.add(bucket, key)
        liveness = _LIVENESS.get(spec.name)
        if liveness is not None:
            counter, is_live = liveness
            sample = new if new is not None else old
            job_key = (sample.namespace, sample.job_id)
            delta = (1 if new is not None and is_live(new) else 0) - (
                1 if old is not None and is_live(old) else 0
            )
            if delta:
                counters = self._counter(counter)
                count = counters.get(job_key, 0) + delta
                if count:
                    counters.set(job_key, count)
                else:
                    counters.delete(job_key)
            self.touched_jobs.add(job_key)
            if spec.name == EVALS and new is None:
                self.evals_deleted.add(job_key)
            if spec.name == ALLOCS:
                update_node_usage(self._counter(NODE_USAGE), old, new)

    # ------------------------------------------------------------------ commit

    def flush_edits(self) -> None:
        """Turn every pending API-JSON edit back into a stored model."""
        while self._edits:
            table, key = next(iter(self._edits))
            self._materialize(table, key)

    def commit(self) -> StateData:
        """The new state: tables, indexes and counters with this transaction's writes.

        Every table that changed gets this transaction's index; the latest index is the
        highest table index, so a command that changed nothing leaves it where it was.
        """
        self.flush_edits()
        tables = dict(self.base.tables)
        table_index = dict(self.base.table_index)
        for name, writer in self._tables.items():
            if writer.changed:
                tables[name] = writer.finish()
                table_index[name] = self.index
        indexes = dict(self.base.indexes)
        for name, writer in self._indexes.items():
            indexes[name] = writer.finish()
        counters = dict(self.base.counters)
        for name, writer in self._counters.items():
            if writer.changed:
                counters[name] = writer.finish()
        return StateData(
            index=max(table_index.values()),
            table_index=table_index,
            tables=tables,
            indexes=indexes,
            counters=counters,
        )

    @property
    def changed_tables(self) -> set[str]:
        return {name for name, writer in self._tables.items() if writer.changed}
