"""Immutable, point-in-time views of the state store.

A :class:`StateSnapshot` holds references to persistent maps, so taking one is O(1) however
many objects the store holds, and it never changes: the scheduler plans against one while the
FSM keeps writing. Every read of the store goes through its latest snapshot.

Lists come back sorted by ID (jobs by namespace then ID), as Nomad's indexes iterate.
``namespace=None`` (or ``"*"``) means every namespace.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from immutables import Map

from caravan.state.index import EMPTY, members_of, prefix_members
from caravan.state.tables import (
    ALLOCS,
    DEPLOYMENTS,
    EVALS,
    JOB_SUMMARIES,
    JOB_VERSIONS,
    JOBS,
    NODES,
    SERVICES,
    SPECS,
    TABLES,
)
from caravan.state.usage import NODE_USAGE, NOTHING_HELD, NodeHeld


@dataclass(frozen=True, slots=True)
class StateData:
    """Everything a snapshot is: the latest index, per-table indexes, tables, indexes, counters."""

    index: int
    table_index: dict[str, int]
    tables: dict[str, Map]
    indexes: dict[str, Map]
    counters: dict[str, Map]

    @classmethod
    def empty(cls) -> StateData:
        from caravan.state.tables import COUNTERS, INDEXES

        return cls(
            index=0,
            table_index=dict.fromkeys(TABLES, 0),
            tables=dict.fromkeys(TABLES, EMPTY),
            indexes=dict.fromkeys(INDEXES, EMPTY),
            counters=dict.fromkeys(COUNTERS, EMPTY),
        )


#: Member sets at least this large have their sorted keys remembered (see ``_members``).
_SORTED_MIN = 64
#: Sorted member sets remembered at most, (index, key) -> (persistent set, sorted keys).
_SORTED_LIMIT = 20_000
_sorted_members: dict[tuple[str, Hashable], tuple[Map, list[Hashable]]] = {}

#: The nodes table last listed by :meth:`StateReader.nodes`, and its sorted nodes.
_sorted_nodes: tuple[Map, list[Any]] | None = None


def _in_namespace(obj: Any, namespace: str | None) -> bool:
    return namespace in (None, "*") or obj.namespace == namespace


class StateReader:
    """Every read of the state, over ``self._data``.

    :class:`StateSnapshot` fixes ``_data`` at one index; the store's own reads use its latest
    data, so two reads on the store may see different indexes (take a snapshot for a
    consistent view).
    """

    __slots__ = ()
    _data: StateData

    # ------------------------------------------------------------------ indexes

    @property
    def index(self) -> int:
        """The highest Raft index that changed any table (0 for an empty store)."""
        return self._data.index

    def table_index(self, table: str) -> int:
        """The Raft index of the last write to ``table``; ``KeyError`` for an unknown table."""
        return self._data.table_index[table]

    def max_index(self, tables: list[str] | tuple[str, ...]) -> int:
        """The highest index among ``tables`` (what a blocking query reports)."""
        return max((self._data.table_index[t] for t in tables), default=0)

    # ------------------------------------------------------------------ generic

    def _table(self, name: str) -> Map:
        return self._data.tables[name]

    def _members(self, index: str, key: Hashable) -> list[Any]:
        table = self._table(index.split(".", 1)[0])
        members = members_of(self._data.indexes[index], key)
        if len(members) < _SORTED_MIN:
            return [table[k] for k in sorted(members)]
        # Sorting a job's thousands of IDs on every read (each evaluation, each deployment
        # watcher step) is wasted while its set is unchanged: the set is persistent, so the
        # same object means the same members.
        cache_key = (index, key)
        cached = _sorted_members.get(cache_key)
        if cached is None or cached[0] is not members:
            if len(_sorted_members) >= _SORTED_LIMIT:
                _sorted_members.clear()
            cached = _sorted_members[cache_key] = (members, sorted(members))
        return [table[k] for k in cached[1]]

    def _all(self, table: str, namespace: str | None) -> list[Any]:
        tbl = self._table(table)
        return [tbl[k] for k in sorted(tbl.keys()) if _in_namespace(tbl[k], namespace)]

    def by_prefix(self, table: str, prefix: str, namespace: str | None = None) -> list[Any]:
        """Objects of ``table`` whose ID starts with ``prefix`` (short-ID lookup), sorted by ID.

        Raises ``KeyError`` for a table without an ID-prefix index.
        """
        spec = SPECS[table]
        keys = prefix_members(self._data.indexes[f"{table}.prefix"], prefix, spec.id_of)
        tbl = self._table(table)
        found = (tbl[k] for k in sorted(keys))
        return [o for o in found if _in_namespace(o, namespace)]

    # ------------------------------------------------------------------ jobs

    def job_by_id(self, namespace: str, job_id: str) -> Any | None:
        """The current version of a job, or ``None``."""
        return self._table(JOBS).get((namespace, job_id))

    def jobs(self, namespace: str | None = None) -> list[Any]:
        return self._all(JOBS, namespace)

    def jobs_by_prefix(self, namespace: str | None, prefix: str) -> list[Any]:
        return self.by_prefix(JOBS, prefix, namespace)

    def job_versions(self, namespace: str, job_id: str) -> list[Any]:
        """Every kept version of a job, newest first (empty when the job is unknown)."""
        return list(self._table(JOB_VERSIONS).get((namespace, job_id), ()))

    def job_by_version(self, namespace: str, job_id: str, version: int) -> Any | None:
        for job in self._table(JOB_VERSIONS).get((namespace, job_id), ()):
            if job.version == version:
                return job
        return None

    def job_summary(self, namespace: str, job_id: str) -> Any | None:
        return self._table(JOB_SUMMARIES).get((namespace, job_id))

    def job_summaries(self, namespace: str | None = None) -> list[Any]:
        return self._all(JOB_SUMMARIES, namespace)

    # ------------------------------------------------------------------ nodes

    def node_by_id(self, node_id: str) -> Any | None:
        return self._table(NODES).get(node_id)

    def nodes(self) -> list[Any]:
        """Every node, sorted by ID (a new list; the sorting is shared while nodes are unchanged:
        every scheduler evaluation reads them all)."""
        global _sorted_nodes
        tbl = self._table(NODES)
        cached = _sorted_nodes
        if cached is None or cached[0] is not tbl:
            cached = _sorted_nodes = (tbl, [tbl[k] for k in sorted(tbl.keys())])
        return list(cached[1])

    def nodes_by_prefix(self, prefix: str) -> list[Any]:
        return self.by_prefix(NODES, prefix)

    # ------------------------------------------------------------------ evaluations

    def eval_by_id(self, eval_id: str) -> Any | None:
        return self._table(EVALS).get(eval_id)

    def evals(self, namespace: str | None = None) -> list[Any]:
        return self._all(EVALS, namespace)

    def evals_by_job(self, namespace: str, job_id: str) -> list[Any]:
        return self._members("evals.job", (namespace, job_id))

    def evals_by_prefix(self, prefix: str, namespace: str | None = None) -> list[Any]:
        return self.by_prefix(EVALS, prefix, namespace)

    # ------------------------------------------------------------------ allocations

    def alloc_by_id(self, alloc_id: str) -> Any | None:
        return self._table(ALLOCS).get(alloc_id)

    def allocs(self, namespace: str | None = None) -> list[Any]:
        return self._all(ALLOCS, namespace)

    def alloc_count(self) -> int:
        return len(self._table(ALLOCS))

    def allocs_by_job(
        self, namespace: str, job_id: str, any_create_index: bool = True
    ) -> list[Any]:
        """A job's allocations. With ``any_create_index=False``, only those of the current job
        (not of an earlier, purged job that had the same ID), as Nomad's ``all=false``."""
        allocs = self._members("allocs.job", (namespace, job_id))
        if any_create_index:
            return allocs
        job = self.job_by_id(namespace, job_id)
        if job is None:
            return []
        return [a for a in allocs if a.job is None or a.job.create_index == job.create_index]

    def allocs_by_node(self, node_id: str) -> list[Any]:
        return self._members("allocs.node", node_id)

    def node_held(self, node_id: str) -> NodeHeld:
        """What the non-terminal allocations on ``node_id`` hold together, in O(1)."""
        return self._data.counters[NODE_USAGE].get(node_id, NOTHING_HELD)

    def allocs_by_eval(self, eval_id: str) -> list[Any]:
        return self._members("allocs.eval", eval_id)

    def allocs_by_deployment(self, deployment_id: str) -> list[Any]:
        return self._members("allocs.deployment", deployment_id)

    def allocs_by_prefix(self, prefix: str, namespace: str | None = None) -> list[Any]:
        return self.by_prefix(ALLOCS, prefix, namespace)

    # ------------------------------------------------------------------ deployments

    def deployment_by_id(self, deployment_id: str) -> Any | None:
        return self._table(DEPLOYMENTS).get(deployment_id)

    def deployments(self, namespace: str | None = None) -> list[Any]:
        return self._all(DEPLOYMENTS, namespace)

    def deployments_by_job(self, namespace: str, job_id: str) -> list[Any]:
        return self._members("deployments.job", (namespace, job_id))

    def latest_deployment_by_job(self, namespace: str, job_id: str) -> Any | None:
        """The job's most recently created deployment, or ``None``."""
        deps = self.deployments_by_job(namespace, job_id)
        return max(deps, key=lambda d: d.create_index, default=None)

    def deployments_by_prefix(self, prefix: str, namespace: str | None = None) -> list[Any]:
        return self.by_prefix(DEPLOYMENTS, prefix, namespace)

    # ------------------------------------------------------------------ services

    def service_registration_by_id(self, reg_id: str) -> Any | None:
        return self._table(SERVICES).get(reg_id)

    def service_registrations(self, namespace: str | None = None) -> list[Any]:
        return self._all(SERVICES, namespace)

    def service_registrations_by_name(self, namespace: str, name: str) -> list[Any]:
        return self._members("service_registrations.name", (namespace, name))

    def service_registrations_by_job(self, namespace: str, job_id: str) -> list[Any]:
        return self._members("service_registrations.job", (namespace, job_id))

    def service_registrations_by_alloc(self, alloc_id: str) -> list[Any]:
        return self._members("service_registrations.alloc", alloc_id)

    def service_registrations_by_node(self, node_id: str) -> list[Any]:
        return self._members("service_registrations.node", node_id)

    # ------------------------------------------------------------------ internals

    def counter(self, name: str, key: Hashable) -> int:
        """A per-job counter (``live_allocs``, ``live_evals``, ``live_deployments``)."""
        return self._data.counters[name].get(key, 0)

    def has_members(self, index: str, key: Hashable) -> bool:
        return key in self._data.indexes[index]

    @property
    def data(self) -> StateData:
        """The underlying persistent data (for the FSM's snapshot and write transactions)."""
        return self._data


class StateSnapshot(StateReader):
    """A read-only view of the store at one index. Safe to share across tasks and threads."""

    __slots__ = ("_data",)

    def __init__(self, data: StateData) -> None:
        self._data = data
