"""``LogWriter``: writes a server's Raft log in the background, in order, one fsync a batch.

The consensus loop hands each ``Ready``'s entries and hard state to the writer and carries
on: it steps new messages, takes new proposals and applies committed entries while the
fsync runs in a thread. Whatever was handed over while a write was in flight goes out in
the next write together (group commit: one record and one fsync however many ``Ready``\\ s
it covers). Messages that vouch for this server's log (a follower's acknowledgement, a
vote) are held until the write before them is on disk and are then sent in order; a
leader's appends need not wait (see ``Ready.send_first``).

Writes complete in the order they were handed over. After each one the loop is told which
entry is now durable, and reports it to the node with ``RaftNode.persisted``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from caravan.raft import Entry, HardState, Message, Storage

log = logging.getLogger(__name__)

_Write = tuple[HardState | None, list[Entry], list[Message]]


def merge(writes: list[_Write]) -> tuple[HardState | None, list[Entry]]:
    """The hard state and entries of ``writes`` as one save: the last hard state, and the
    entries in order, a later entry replacing an earlier one at the same index (and all
    after it), as the log itself would."""
    hard_state: HardState | None = None
    entries: list[Entry] = []
    for hs, ents, _ in writes:
        if hs is not None:
            hard_state = hs
        if not ents:
            continue
        if entries and ents[0].index <= entries[-1].index:
            del entries[max(ents[0].index - entries[0].index, 0) :]
        entries.extend(ents)
    return hard_state, entries


class LogWriter:
    """Saves to ``storage`` in a thread; see the module docstring.

    ``send`` ships messages once the write before them is durable; ``on_written`` is called
    on the event loop after each write (the consensus loop then reads :meth:`take_written`).
    """

    def __init__(
        self,
        storage: Storage,
        send: Callable[[list[Message]], None],
        on_written: Callable[[], None],
    ) -> None:
        self.storage = storage
        self._send = send
        self._on_written = on_written
        self._queue: list[_Write] = []
        self._busy = False
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._written: tuple[int, int] | None = None
        self._saving: asyncio.Future[None] | None = None
        self.error: BaseException | None = None
        self._task = asyncio.create_task(self._run())

    @property
    def busy(self) -> bool:
        """Whether a write is queued or in flight."""
        return self._busy

    def submit(
        self, hard_state: HardState | None, entries: list[Entry], messages: list[Message]
    ) -> None:
        """Write ``hard_state`` and ``entries`` after everything handed over before, then send
        ``messages``. With nothing to write, ``messages`` still wait for earlier writes."""
        if not (hard_state is not None or entries or self._busy):
            self._send(messages)
            return
        self._queue.append((hard_state, entries, messages))
        self._busy = True
        self._idle.clear()
        self._wake.set()

    def take_written(self) -> tuple[int, int] | None:
        """``(index, term)`` of the last entry written since the previous call, if any."""
        written, self._written = self._written, None
        return written

    async def drained(self) -> None:
        """Wait until everything handed over is on disk and its messages are sent."""
        await self._idle.wait()

    async def close(self) -> None:
        """Stop writing; a write in flight is finished first, queued ones are dropped."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._saving is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._saving

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue, []
                hard_state, entries = merge(batch)
                try:
                    if hard_state is not None or entries:
                        self._saving = loop.run_in_executor(
                            None, self.storage.save, hard_state, entries, None
                        )
                        # Shielded: a write the thread has begun is waited for by close().
                        await asyncio.shield(self._saving)
                        self._saving = None
                except Exception as err:
                    # A log that cannot be written: this server must not vouch for anything
                    # any more. The consensus loop sees the error and stops.
                    log.critical("raft: writing the log failed", exc_info=True)
                    self.error = err
                    self._on_written()
                    return
                if entries:
                    self._written = (entries[-1].index, entries[-1].term)
                for _, _, messages in batch:
                    self._send(messages)
                self._on_written()
            self._busy = False
            self._idle.set()
