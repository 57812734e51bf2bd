"""The core's view of the log: persisted entries in ``Storage`` plus an *unstable* tail.

New entries (proposals on the leader, appends on followers) and a snapshot received from the
leader live in the unstable part until the application reports them persisted through
``RaftNode.advance`` or ``RaftNode.persisted``; ``in_progress`` is the last of them already
handed to the application for writing, so that the next ``Ready`` carries only newer ones.
``committed`` and ``applied`` track the commit index and how far the application has been
handed committed entries.
"""

from __future__ import annotations

from caravan.raft.errors import CompactedError, UnavailableError
from caravan.raft.messages import Entry, Snapshot
from caravan.raft.storage import Storage


class RaftLog:
    """Storage entries followed by unstable ones starting at ``offset``."""

    __slots__ = (
        "applied",
        "committed",
        "in_progress",
        "offset",
        "storage",
        "unstable",
        "unstable_snapshot",
    )

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.offset = storage.last_index() + 1
        self.in_progress = self.offset - 1
        self.unstable: list[Entry] = []
        self.unstable_snapshot: Snapshot | None = None
        # Entries kept before the snapshot (trailing logs) are applied already: its state
        # holds them.
        start = max(storage.first_index() - 1, storage.snapshot().index)
        self.committed = start
        self.applied = start

    # ---- bounds and terms

    def first_index(self) -> int:
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.index + 1
        return self.storage.first_index()

    def last_index(self) -> int:
        if self.unstable:
            return self.offset + len(self.unstable) - 1
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.index
        return self.storage.last_index()

    def term(self, index: int) -> int:
        """Term of ``index``; raises CompactedError/UnavailableError outside the log."""
        if index >= self.offset and self.unstable:
            pos = index - self.offset
            if pos < len(self.unstable):
                return self.unstable[pos].term
            raise UnavailableError(index)
        snap = self.unstable_snapshot
        if snap is not None:
            if index == snap.index:
                return snap.term
            if index < snap.index:
                raise CompactedError(index)
            raise UnavailableError(index)
        return self.storage.term(index)

    def term_or_zero(self, index: int) -> int:
        """Term of ``index``, or 0 when it is compacted or past the end."""
        try:
            return self.term(index)
        except (CompactedError, UnavailableError):
            return 0

    def last_term(self) -> int:
        return self.term(self.last_index())

    def match_term(self, index: int, term: int) -> bool:
        return self.term_or_zero(index) == term

    def is_up_to_date(self, last_index: int, term: int) -> bool:
        """Whether a candidate whose last entry is (last_index, term) is at least as current."""
        my_term = self.last_term()
        return term > my_term or (term == my_term and last_index >= self.last_index())

    # ---- appending

    def append(self, entries: list[Entry]) -> int:
        """Append ``entries`` (replacing a conflicting unstable/stable suffix); new last index."""
        if not entries:
            return self.last_index()
        after = entries[0].index
        if after == self.offset + len(self.unstable):
            self.unstable.extend(entries)
        elif after <= self.offset:
            # Replaces part of the persisted log: the storage will truncate on save.
            self.offset = after
            self.unstable = list(entries)
        else:
            del self.unstable[after - self.offset :]
            self.unstable.extend(entries)
        # Entries being written that were just replaced must be written again.
        self.in_progress = min(self.in_progress, after - 1)
        return self.last_index()

    def find_conflict(self, entries: list[Entry]) -> int:
        """Index of the first entry whose term differs from ours (or is new); 0 if none."""
        for e in entries:
            if not self.match_term(e.index, e.term):
                return e.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """Largest ``i <= index`` whose term is ``<= term``, with that term (fast backtracking)."""
        first = self.first_index() - 1
        while index > first:
            t = self.term_or_zero(index)
            if t <= term:
                return index, t
            index -= 1
        return index, self.term_or_zero(index)

    def maybe_append(
        self, index: int, log_term: int, commit: int, entries: list[Entry]
    ) -> int | None:
        """Follower side of AppendEntries: None if (index, log_term) does not match ours.

        Otherwise appends the entries that are new, advances the commit index to
        ``min(commit, last new index)`` and returns that last new index.
        """
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(entries)
        conflict = self.find_conflict(entries)
        if conflict:
            if conflict <= self.committed:
                raise AssertionError(f"entry {conflict} conflicts with committed entry")
            self.append(entries[conflict - index - 1 :])
        self.commit_to(min(commit, last_new))
        return last_new

    def commit_to(self, commit: int) -> None:
        if commit > self.committed:
            self.committed = min(commit, self.last_index())

    # ---- reading

    def slice(self, lo: int, hi: int, max_count: int | None = None) -> list[Entry]:
        """Entries ``lo <= index < hi`` (at most ``max_count``); raises CompactedError."""
        if lo < self.first_index():
            raise CompactedError(lo)
        if lo >= hi:
            return []
        out: list[Entry] = []
        if lo < self.offset:
            stop = min(hi, self.offset)
            out = self.storage.entries(lo, stop, max_count)
            if max_count is not None and len(out) >= max_count:
                return out
            if stop < hi:
                out = list(out)
        if hi > self.offset:
            start = max(lo, self.offset) - self.offset
            stop = hi - self.offset
            if max_count is not None:
                stop = min(stop, start + max_count - len(out))
            if out:
                out.extend(self.unstable[start:stop])
            else:
                out = self.unstable[start:stop]
        return out

    def entries_from(self, lo: int, max_count: int | None) -> list[Entry]:
        """Entries from ``lo`` to the end, at most ``max_count``; raises CompactedError."""
        last = self.last_index()
        if lo > last:
            return []
        return self.slice(lo, last + 1, max_count)

    def has_next_committed(self) -> bool:
        return self.committed > self.applied

    def next_committed(self) -> list[Entry]:
        """Committed entries not yet handed to the application."""
        lo = max(self.applied + 1, self.first_index())
        if self.committed < lo:
            return []
        return self.slice(lo, self.committed + 1)

    # ---- persistence bookkeeping

    def unwritten(self) -> list[Entry]:
        """Unstable entries not yet handed to the application for writing."""
        start = self.in_progress + 1 - self.offset
        return self.unstable[start:] if start > 0 else list(self.unstable)

    def accept_written(self, index: int) -> None:
        """The application will write the unstable entries up to ``index``."""
        self.in_progress = max(self.in_progress, index)

    def stable_to(self, index: int, term: int) -> None:
        """The application persisted the unstable entries up to (index, term)."""
        if index < self.offset or not self.unstable:
            return
        pos = index - self.offset
        if pos < len(self.unstable) and self.unstable[pos].term == term:
            del self.unstable[: pos + 1]
            self.offset = index + 1
            self.in_progress = max(self.in_progress, index)

    def stable_snap_to(self, index: int) -> None:
        if self.unstable_snapshot is not None and self.unstable_snapshot.index == index:
            self.unstable_snapshot = None

    def restore(self, snap: Snapshot) -> None:
        """Replace the whole log with ``snap`` (InstallSnapshot on a follower)."""
        self.committed = snap.index
        self.offset = snap.index + 1
        self.in_progress = snap.index
        self.unstable = []
        self.unstable_snapshot = snap

    def applied_to(self, index: int) -> None:
        if index > self.applied:
            self.applied = index
