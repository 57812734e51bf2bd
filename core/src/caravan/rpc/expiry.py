"""``ExpiryTimer``: one loop timer standing in for a timeout on each of many pending calls.

A busy connection or Raft group has thousands of calls a second in flight, each with a
deadline that almost never passes. A loop timer per call (set, then cancelled when the
answer comes) costs more than the rest of the call's bookkeeping; instead the owner keeps
each call's deadline next to its future and one timer is armed for the earliest deadline
known. When it fires, the owner's ``sweep`` fails whatever is overdue and says which
deadline comes next. With equal timeouts, deadlines arrive in increasing order, so arming
is a comparison and the timer fires about once per timeout.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

# uvloop's timers have millisecond resolution and may fire up to that much early; a call
# due within it counts as overdue, or the timer would re-arm for the same moment.
_SLACK = 0.001


class ExpiryTimer:
    """Calls ``sweep(now)`` at the earliest deadline passed to :meth:`arm` (loop time).

    ``sweep`` must fail every pending call whose deadline is at or before ``now`` and return
    the earliest deadline still pending, or ``None`` when nothing is. Use it on the event
    loop only.
    """

    def __init__(self, sweep: Callable[[float], float | None]) -> None:
        self._sweep = sweep
        self._loop = asyncio.get_running_loop()
        self._at = math.inf
        self._handle: asyncio.TimerHandle | None = None

    def deadline(self, timeout: float) -> float:
        """The loop time ``timeout`` seconds from now, armed: the timer fires by then."""
        at = self._loop.time() + timeout
        if at < self._at:
            self._arm(at)
        return at

    def _arm(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._at = at
        self._handle = self._loop.call_at(at, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._at = math.inf
        following = self._sweep(self._loop.time() + _SLACK)
        if following is not None and following < self._at:
            self._arm(following)

    def cancel(self) -> None:
        """Stop the timer (the owner is closing)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._at = math.inf
