"""What the leader knows about each follower's log, and how it sends to it.

A follower is in one of three states:

- ``PROBE``: the leader does not know where the follower's log matches; it sends one
  append at a time and waits for the answer (a rejection walks ``next`` back using the
  follower's conflict hint).
- ``REPLICATE``: the logs match up to ``match``; the leader pipelines appends, advancing
  ``next`` optimistically, with at most ``max_inflight`` messages unacknowledged.
- ``SNAPSHOT``: the entries the follower needs were compacted; a snapshot is on its way.
"""

from __future__ import annotations

from collections import deque
from enum import Enum


class ProgressState(Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Progress:
    """Replication state of one follower (and of the leader itself, whose ``match`` is its log)."""

    __slots__ = (
        "commit_sent",
        "inflight",
        "match",
        "max_inflight",
        "next",
        "pending_snapshot",
        "probe_sent",
        "recent_active",
        "state",
        "state_ticks",
    )

    def __init__(self, next_index: int, max_inflight: int) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.probe_sent = False
        self.pending_snapshot = 0
        self.recent_active = False
        self.max_inflight = max_inflight
        # Last index of each unacknowledged append, oldest first.
        self.inflight: deque[int] = deque()
        self.state_ticks = 0
        # The highest commit index sent in an append: whether it still has news to learn.
        self.commit_sent = 0

    def __repr__(self) -> str:
        return f"Progress({self.state.value} match={self.match} next={self.next})"

    def _reset(self, state: ProgressState) -> None:
        self.probe_sent = False
        self.pending_snapshot = 0
        self.state = state
        self.state_ticks = 0
        self.inflight.clear()

    def become_probe(self) -> None:
        """Go back to one-at-a-time appends (after a rejection or a finished snapshot)."""
        if self.state is ProgressState.SNAPSHOT:
            pending = self.pending_snapshot
            self._reset(ProgressState.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset(ProgressState.PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        self._reset(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def maybe_update(self, index: int) -> bool:
        """The follower acknowledged ``index``; False if that is old news."""
        updated = False
        if self.match < index:
            self.match = index
            updated = True
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def sent_append(self, last_index: int) -> None:
        """An append ending at ``last_index`` went out (only called when it had entries)."""
        if self.state is ProgressState.REPLICATE:
            self.next = last_index + 1
            self.inflight.append(last_index)
        else:
            self.probe_sent = True

    def free_to(self, index: int) -> None:
        """Appends up to ``index`` were acknowledged: release their pipeline slots."""
        inflight = self.inflight
        while inflight and inflight[0] <= index:
            inflight.popleft()

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """An append at ``rejected`` was refused: move ``next`` back; False if stale."""
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        """Whether the leader should hold back appends to this follower for now."""
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        if self.state is ProgressState.REPLICATE:
            return len(self.inflight) >= self.max_inflight
        return True
