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

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence
from itertools import repeat
from operator import attrgetter
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

_JOB_KEY = attrgetter("namespace", "job_id")

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

    def upsert_many(
        self, table: str, objs: Sequence[Any], olds: Sequence[Any | None] | None = None
    ) -> None:
        """:meth:`upsert` of each of ``objs``, in order, with the same result, in fewer steps
        per object: each index key is written once with all its new members.

        ``olds`` are the objects now stored under their keys (``None`` for new ones), when the
        caller has just read them. Objects with the same key are upserted one by one.
        """
        spec = SPECS[table]
        keys = list(map(spec.key, objs))
        if len(set(keys)) != len(keys):
            for obj in objs:
                self.upsert(table, obj)
            return
        if self._edits:
            for key in keys:
                self._edits.pop((table, key), None)
        writer = self.table(table)
        if olds is None:
            olds = list(map(writer.get, keys))
        if keys:
            writer.set_many(keys, objs)
        self.changes.extend(zip(repeat(table, len(keys)), keys, olds, objs, strict=True))
        for index_name, key_fn in _QUALIFIED[table]:
            self._index_many(index_name, key_fn, keys, olds, objs)
        if spec.prefix:
            added = [key for key, old in zip(keys, olds, strict=True) if old is None]
            if added:
                buckets: dict[str, list[Hashable]] = defaultdict(list)
                for key in added:
                    buckets[prefix_bucket(spec.id_of(key))].append(key)
                prefix = self._index(_PREFIX_INDEX[table])
                for bucket, members in buckets.items():
                    prefix.add_many(bucket, members)
        if table in _LIVENESS:
            self._count_many(table, olds, objs)

    def _count_many(self, table: str, olds: Sequence[Any | None], objs: Sequence[Any]) -> None:
        """:meth:`_count` of each upsert: one counter write per job (the sum of its changes
        lands on the same count as one write per object would)."""
        counter, is_live = _LIVENESS[table]
        job_keys = list(map(_JOB_KEY, objs))
        self.touched_jobs.update(job_keys)
        deltas: dict[Hashable, int] = defaultdict(int)
        for job_key, old, live in zip(job_keys, olds, map(is_live, objs), strict=True):
            delta = live - (old is not None and is_live(old))
            if delta:
                deltas[job_key] += delta
        if any(deltas.values()):
            counters = self._counter(counter)
            for job_key, delta in deltas.items():
                if not delta:
                    continue
                count = counters.get(job_key, 0) + delta
                if count:
                    counters.set(job_key, count)
                elif job_key in counters:
                    counters.delete(job_key)
        if table == ALLOCS:
            usage = self._counter(NODE_USAGE)
            for old, new in zip(olds, objs, strict=True):
                update_node_usage(usage, old, new)

    def _index_many(
        self,
        index_name: str,
        key_fn: Callable[[Any], Hashable],
        keys: list[Hashable],
        olds: Sequence[Any | None],
        objs: Sequence[Any],
    ) -> None:
        # Every member is one object's primary key, so dropping all old entries before adding
        # all new ones leaves the index as the upserts one by one would.
        adds: dict[Hashable, list[Hashable]] = defaultdict(list)
        discards: list[tuple[Hashable, Hashable]] = []
        for key, old, new_k in zip(keys, olds, map(key_fn, objs), strict=True):
            if old is not None:
                old_k = key_fn(old)
                if old_k == new_k:
                    continue
                if old_k is not None:
                    discards.append((old_k, key))
            if new_k is not None:
                adds[new_k].append(key)
        if not adds and not discards:
            return
        writer = self._index(index_name)
        for old_k, key in discards:
            writer.discard(old_k, key)
        for new_k, members in adds.items():
            writer.add_many(new_k, members)

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
        if spec.name in _LIVENESS:
            self._count(spec, old, new)

    def _count(self, spec: TableSpec, old: Any, new: Any) -> None:
        """Keep the job's liveness counter, touched jobs and node usage in step with a write."""
        counter, is_live = _LIVENESS[spec.name]
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
