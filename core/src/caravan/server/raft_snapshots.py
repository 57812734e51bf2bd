"""When a ``RaftGroup`` snapshots its state and compacts its log.

Split from :mod:`caravan.server.consensus`; ``RaftGroup`` inherits these methods and owns the
state they use. Once ``snapshot_threshold`` entries are applied past the last snapshot, the
FSM's state is captured on the event loop at the applied index and encoded in a thread; when
the encoding is done, the consensus loop hands it to the Raft node, which stores it and drops
the log entries it covers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from caravan.raft import RaftNode, Storage
from caravan.server.log_writer import LogWriter


class SnapshotMixin:
    """Snapshots of :class:`~caravan.server.consensus.RaftGroup` (its state is declared here
    for type checkers)."""

    fsm: Any
    storage: Storage | None
    snapshot_threshold: int
    _writer: LogWriter | None
    _wake: asyncio.Event
    _snapshot_task: asyncio.Task[tuple[int, bytes]] | None

    async def _maybe_snapshot(self, node: RaftNode) -> None:
        """Start encoding a snapshot once enough entries are applied; compact when it is done.

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
            await asyncio.to_thread(node.compact, index, data)
            return
        index = node.applied_index
        if index - storage.snapshot().index < self.snapshot_threshold:
            return
        if index > storage.last_index():
            return  # applied ahead of this server's own copy of the log: snapshot later
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
