"""Persistent tables and secondary indexes, and their batched writers.

Every table and index of the state store is an :class:`immutables.Map` (a HAMT): taking a
snapshot is keeping a reference, and a write shares all untouched structure with the previous
version. A secondary index maps an index key to the *set* of primary keys under it, the set
itself a persistent map (``id -> True``), so adding one allocation to a job with a million
allocations costs a few tree steps, not a copy.

A write transaction touches the same few index keys many times (a plan places a thousand
allocations of one job), so the writers here keep one open mutation per touched key and fold
them back into the outer map once, when the transaction finishes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any

from immutables import Map, MapMutation

EMPTY: Map = Map()

#: Length of the ID prefix that buckets the ID-prefix index. Two characters spread UUIDs over
#: 256 buckets: a short-ID lookup scans one bucket, and a write touches one small set.
PREFIX_BUCKET = 2


def prefix_bucket(key_id: str) -> str:
    """The bucket an ID falls into in the ID-prefix index."""
    return key_id[:PREFIX_BUCKET]


class TableWriter:
    """A batched writer over one persistent primary table (``key -> object``).

    Opened lazily by a transaction the first time it touches the table; :meth:`finish` returns
    the new persistent map and leaves the original untouched.
    """

    __slots__ = ("_mutation", "changed")

    def __init__(self, base: Map) -> None:
        self._mutation: MapMutation = base.mutate()
        self.changed = False

    def get(self, key: Hashable, default: Any = None) -> Any:
        return self._mutation.get(key, default)

    def set(self, key: Hashable, value: Any) -> None:
        self._mutation[key] = value
        self.changed = True

    def set_many(self, keys: Iterable[Hashable], values: Iterable[Any]) -> None:
        """:meth:`set` of each key to the value at the same place in ``values``."""
        self._mutation.update(zip(keys, values, strict=True))
        self.changed = True

    def delete(self, key: Hashable) -> None:
        del self._mutation[key]
        self.changed = True

    def __contains__(self, key: Hashable) -> bool:
        return key in self._mutation

    def finish(self) -> Map:
        return self._mutation.finish()


class MultiIndexWriter:
    """A batched writer over a secondary index ``index key -> persistent set of primary keys``.

    Empty sets are dropped so that "has anything for this key" is a plain membership test.
    """

    __slots__ = ("_base", "_open")

    def __init__(self, base: Map) -> None:
        self._base = base
        self._open: dict[Hashable, MapMutation] = {}

    def _set_for(self, key: Hashable) -> MapMutation:
        mutation = self._open.get(key)
        if mutation is None:
            mutation = self._base.get(key, EMPTY).mutate()
            self._open[key] = mutation
        return mutation

    def add(self, key: Hashable, member: Hashable) -> None:
        self._set_for(key)[member] = True

    def add_many(self, key: Hashable, members: Iterable[Hashable]) -> None:
        """:meth:`add` of each of ``members`` under ``key``."""
        self._set_for(key).update(dict.fromkeys(members, True))

    def discard(self, key: Hashable, member: Hashable) -> None:
        members = self._set_for(key)
        if member in members:
            del members[member]

    def members(self, key: Hashable) -> Iterator[Hashable]:
        """The current members under ``key``, including this transaction's changes."""
        mutation = self._open.get(key)
        if mutation is None:
            return iter(list(self._base.get(key, EMPTY).keys()))
        # A mutation cannot be iterated: freeze it (cheap, structure is shared) and reopen.
        members = mutation.finish()
        self._open[key] = members.mutate()
        return iter(list(members.keys()))

    def has(self, key: Hashable) -> bool:
        mutation = self._open.get(key)
        return len(mutation) > 0 if mutation is not None else key in self._base

    def finish(self) -> Map:
        if not self._open:
            return self._base
        if len(self._open) == 1:
            # Most transactions write one key of an index (one job's, one ID bucket's): one
            # step on the outer map instead of a mutation of it.
            ((key, mutation),) = self._open.items()
            members = mutation.finish()
            if len(members):
                return self._base.set(key, members)
            return self._base.delete(key) if key in self._base else self._base
        outer = self._base.mutate()
        for key, mutation in self._open.items():
            members = mutation.finish()
            if len(members):
                outer[key] = members
            elif key in outer:
                del outer[key]
        return outer.finish()


def members_of(index: Map, key: Hashable) -> Map:
    """The persistent set of primary keys under ``key`` (empty when there are none)."""
    return index.get(key, EMPTY)


def prefix_members(
    index: Map, prefix: str, id_of: Callable[[Any], str] = str
) -> Iterable[Hashable]:
    """Every primary key in an ID-prefix index whose ID starts with ``prefix`` (unordered).

    ``id_of`` extracts the ID from a primary key (jobs are keyed by ``(namespace, id)``).
    """
    if len(prefix) >= PREFIX_BUCKET:
        bucket = index.get(prefix[:PREFIX_BUCKET], EMPTY)
        return (k for k in bucket if id_of(k).startswith(prefix))
    return (k for b, keys in index.items() if b.startswith(prefix) for k in keys)
