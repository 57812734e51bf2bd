"""The storage a :class:`~caravan.raft.node.RaftNode` reads, and the in-memory implementation.

The core only *reads* storage (``initial_state``, ``entries``, ``term``, ``first_index``,
``last_index``, ``snapshot``). The application *writes* it: for every ``Ready`` it calls
:meth:`Storage.save` with the ready's snapshot, entries and hard state (one durable write),
and it compacts the log through ``RaftNode.compact`` once it has a snapshot of its state.

Entries are kept after a sentinel holding the snapshot's index and term (as etcd does), so
``term(first_index() - 1)`` always answers.
"""

from __future__ import annotations

import abc

from caravan.raft.errors import CompactedError, UnavailableError
from caravan.raft.messages import Entry, HardState, NodeId, Snapshot


class Storage(abc.ABC):
    """The contract between the core and a log store."""

    @abc.abstractmethod
    def initial_state(self) -> tuple[HardState, Snapshot]:
        """The persisted hard state and latest snapshot (index 0 when there is none)."""

    @abc.abstractmethod
    def first_index(self) -> int:
        """The index of the first entry still available: the snapshot index + 1, or lower
        while entries the snapshot covers are kept (see :meth:`create_snapshot`)."""

    @abc.abstractmethod
    def last_index(self) -> int:
        """The index of the last persisted entry (the snapshot index when there are none)."""

    @abc.abstractmethod
    def term(self, index: int) -> int:
        """The term of entry ``index``, for ``first_index() - 1 <= index <= last_index()``.

        Raises :class:`CompactedError` below that range and :class:`UnavailableError` above.
        """

    @abc.abstractmethod
    def entries(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        """Entries ``lo <= index < hi``, at most ``max_count`` of them (at least one).

        Raises :class:`CompactedError` if ``lo`` was compacted, :class:`UnavailableError` if
        ``hi`` is past ``last_index() + 1``.
        """

    @abc.abstractmethod
    def snapshot(self) -> Snapshot:
        """The latest snapshot (index 0 when there is none)."""

    @abc.abstractmethod
    def save(
        self,
        hard_state: HardState | None,
        entries: list[Entry],
        snapshot: Snapshot | None = None,
    ) -> None:
        """Persist one ``Ready``'s worth of state durably before returning.

        The snapshot (if any) replaces the log; ``entries`` then replace any conflicting
        suffix (an entry at an existing index discards it and everything after it).
        """

    @abc.abstractmethod
    def create_snapshot(
        self, index: int, voters: tuple[NodeId, ...], data: bytes, trailing: int = 0
    ) -> Snapshot:
        """Record the application's snapshot ``data`` as of ``index`` and discard older entries
        but the last ``trailing`` of them (those kept are not kept across a reopen).

        ``index`` must be an applied entry still in the log. Raises :class:`CompactedError`
        when ``index`` is not newer than the current snapshot.
        """


class MemoryLog:
    """Entries after a sentinel: the shared in-memory body of the storages."""

    __slots__ = ("ents",)

    def __init__(self) -> None:
        self.ents: list[Entry] = [Entry(0, 0)]

    def first_index(self) -> int:
        return self.ents[0].index + 1

    def last_index(self) -> int:
        return self.ents[0].index + len(self.ents) - 1

    def term(self, index: int) -> int:
        offset = self.ents[0].index
        if index < offset:
            raise CompactedError(index)
        if index - offset >= len(self.ents):
            raise UnavailableError(index)
        return self.ents[index - offset].term

    def entries(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        offset = self.ents[0].index
        if lo <= offset:
            raise CompactedError(lo)
        if hi > self.last_index() + 1:
            raise UnavailableError(hi)
        if max_count is not None and hi - lo > max_count:
            hi = lo + max(1, max_count)
        return self.ents[lo - offset : hi - offset]

    def append(self, entries: list[Entry]) -> None:
        """Append, replacing a conflicting suffix; entries at or below the sentinel are ignored."""
        if not entries:
            return
        first = self.first_index()
        if entries[-1].index < first:
            return
        if entries[0].index < first:
            entries = entries[first - entries[0].index :]
        offset = entries[0].index - self.ents[0].index
        if offset > len(self.ents):
            raise UnavailableError(f"missing log entry before {entries[0].index}")
        del self.ents[offset:]
        self.ents.extend(entries)

    def reset_to(self, index: int, term: int) -> None:
        """Drop every entry: the log now starts right after (index, term)."""
        self.ents = [Entry(term, index)]

    def keep_after(self, index: int) -> None:
        """:meth:`compact_to` ``index`` unless the log already starts after it."""
        if index > self.ents[0].index:
            self.compact_to(index)

    def compact_to(self, index: int) -> None:
        """Drop entries up to ``index``, keeping it as the sentinel."""
        offset = self.ents[0].index
        if index <= offset:
            raise CompactedError(index)
        if index > self.last_index():
            raise UnavailableError(index)
        sentinel = self.ents[index - offset]
        self.ents = [Entry(sentinel.term, sentinel.index), *self.ents[index - offset + 1 :]]


class LogBackedStorage(Storage):
    """The reads every storage answers from an in-memory copy of its log: ``log``, the hard
    state and the latest snapshot. Subclasses say how writes are kept."""

    def __init__(self) -> None:
        self.log = MemoryLog()
        self.hard_state = HardState()
        self.snap = Snapshot()

    def initial_state(self) -> tuple[HardState, Snapshot]:
        return self.hard_state, self.snap

    def first_index(self) -> int:
        return self.log.first_index()

    def last_index(self) -> int:
        return self.log.last_index()

    def term(self, index: int) -> int:
        return self.log.term(index)

    def entries(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        return self.log.entries(lo, hi, max_count)

    def snapshot(self) -> Snapshot:
        return self.snap


class MemoryStorage(LogBackedStorage):
    """Storage kept in memory only: for tests, simulations and benchmarks."""

    def save(
        self,
        hard_state: HardState | None,
        entries: list[Entry],
        snapshot: Snapshot | None = None,
    ) -> None:
        if snapshot is not None and snapshot.index > self.snap.index:
            self.snap = snapshot
            self.log.reset_to(snapshot.index, snapshot.term)
        self.log.append(entries)
        if hard_state is not None:
            self.hard_state = hard_state

    def create_snapshot(
        self, index: int, voters: tuple[NodeId, ...], data: bytes, trailing: int = 0
    ) -> Snapshot:
        if index <= self.snap.index:
            raise CompactedError(index)
        snap = Snapshot(index, self.log.term(index), tuple(voters), data)
        self.log.keep_after(index - trailing)
        self.snap = snap
        return snap
