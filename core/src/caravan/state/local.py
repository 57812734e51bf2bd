"""Commands this process proposed, remembered with the objects they encode.

A leader builds each plan's allocations (and evaluations) as model objects, encodes them for the
log, and then applies the very same entry to its own FSM, which would decode them all again: for
a plan of a thousand allocations that decoding is most of the FSM's work, and for a single
evaluation it is about a third of it. Encoding is lossless (decoding gives back equal objects),
so the leader's FSM may use the objects themselves. The constructor of a command registers
``bytes -> decoded payload`` here; :meth:`LocalCommands.take` hands the payload to the first
FSM of the process that applies those exact bytes. Every other FSM (followers, replays,
restores) decodes the bytes as usual, so the state is the same either way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

#: Commands remembered at most; older ones (never applied here: leadership was lost, the
#: proposal failed) are forgotten and would simply be decoded. Room for a few hundred writes
#: in flight, as a busy leader has.
LIMIT = 1024


class LocalCommands:
    """A small, thread-safe, bounded map from command bytes to their decoded entry."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._limit = limit
        self._entries: OrderedDict[bytes, tuple[str, int, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, data: bytes, command: str, version: int, payload: dict[str, Any]) -> None:
        """Note that ``data`` decodes to ``(command, version, payload)``; ``payload`` may hold
        model objects where the bytes hold their API JSON, and must not be changed afterwards."""
        with self._lock:
            self._entries[data] = (command, version, payload)
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)

    def take(self, data: bytes) -> tuple[str, int, dict[str, Any]] | None:
        """The entry remembered for ``data`` (once), or ``None``: then decode the bytes."""
        if not self._entries:
            return None
        with self._lock:
            return self._entries.pop(data, None)

    def __len__(self) -> int:
        return len(self._entries)


#: The process-wide registry the command constructors and the FSM share.
LOCAL_COMMANDS = LocalCommands()
