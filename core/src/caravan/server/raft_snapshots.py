"""When a ``RaftGroup`` snapshots its state and compacts its log.

Split from :mod:`caravan.server.consensus`; ``RaftGroup`` inherits these methods and owns the
state they use.

When, as hashicorp/raft (and so Nomad) decides it: a snapshot is due once
``snapshot_threshold`` entries are applied past the last one and ``snapshot_interval``
seconds have passed since the last one (or since start), that interval stretched by a random
factor between 1 and 2 drawn per snapshot, so that the servers of a region do not all
snapshot at the same moment. A snapshot writes out the whole state, so its cost grows with
the state, not with the writes since the last one: the interval keeps a busy server from
paying it every few thousand writes. The log lives in memory until a snapshot compacts it,
so a backlog of ``SNAPSHOT_BACKLOG`` times the threshold is snapshotted without waiting for
the interval. ``snapshot_interval = 0`` snapshots as soon as the threshold is reached.

How: the FSM's state is captured on the event loop at the applied index and encoded in a
thread; when the encoding is done, the consensus loop hands it to the Raft node, which stores
it and drops the log entries it covers but the last ``trailing_logs`` (Nomad's
``raft_trailing_logs``), so that a follower that was a little behind catches up from the log
instead of receiving the whole state.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

from caravan.raft import RaftNode, Storage
from caravan.server.log_writer import LogWriter

#: Applied entries past the last snapshot, in multiples of the threshold, that are
#: snapshotted without waiting for the interval (they are held in memory until then).
SNAPSHOT_BACKLOG = 8


class SnapshotMixin:
    """Snapshots of :class:`~caravan.server.consensus.RaftGroup` (its state is declared here
    for type checkers)."""

    fsm: Any
    storage: Storage | None
    snapshot_threshold: int
    snapshot_interval: float
    trailing_logs: int
    rand: random.Random
    _writer: LogWriter | None
    _wake: asyncio.Event
    _snapshot_task: asyncio.Task[tuple[int, bytes]] | None
    #: When the interval before the next snapshot started, and its random stretch factor.
    _snapshot_wait: tuple[float, float]

    def _restart_snapshot_interval(self) -> None:
        self._snapshot_wait = (time.monotonic(), 1.0 + self.rand.random())

    def _snapshot_due(self, backlog: int) -> bool:
        """Whether ``backlog`` applied entries past the last snapshot call for one now."""
        if backlog < self.snapshot_threshold:
            return False
        if backlog >= SNAPSHOT_BACKLOG * self.snapshot_threshold:
            return True
        since, stretch = self._snapshot_wait
        return time.monotonic() - since >= self.snapshot_interval * stretch

    async def _maybe_snapshot(self, node: RaftNode) -> None:
        """Start encoding a snapshot once one is due (see the module docstring); compact when
        it is done.

        The state is captured on the loop at an applied index and encoded in a thread, so a
        large state does not hold up replication or the API while it is written out.
        """
        storage = self.storage
        assert storage is not None
        task = self._snapshot_task
        if task is not None:
            if not task.done():
                return
            self._snapshot_task = None
            index, data = task.result()
            if index <= storage.snapshot().index:
                return  # a newer snapshot arrived from the leader meanwhile
            if self._writer is not None:
                # The snapshot replaces log segments: no write may run alongside.
                await self._writer.drained()
            await asyncio.to_thread(node.compact, index, data, self.trailing_logs)
            return
        index = node.applied_index
        if not self._snapshot_due(index - storage.snapshot().index):
            return
        if index > storage.last_index():
            return  # applied ahead of this server's own copy of the log: snapshot later
        self._restart_snapshot_interval()
        encode = self._snapshot_encoder()
        self._snapshot_task = asyncio.create_task(
            asyncio.to_thread(lambda: (index, encode())), name=f"raft-snapshot-{index}"
        )
        self._snapshot_task.add_done_callback(lambda _: self._wake.set())

    def _snapshot_encoder(self) -> Callable[[], bytes]:
        make = getattr(self.fsm, "snapshot_encoder", None)
        if make is not None:
            return make()
        data = self.fsm.snapshot()  # an FSM that can only encode on the spot
        return lambda: data
